"""Lists on SQLite and PostgreSQL: every filter, size, members, export and the bulk
actions (set-based, recorded, a repeated run a no-op)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kithkin.config import get_settings
from kithkin.customers.models import Customer
from kithkin.customers.scope import CustomerScope
from kithkin.database.core import session_scope
from kithkin.errors import ConflictError, ValidationError
from kithkin.lists import actions, export
from kithkin.lists import service as list_service
from kithkin.lists.models import RunStatus
from kithkin.lists.schemas import ActionRequest
from kithkin.lists.spec import ListSpec, load
from kithkin.outbox.models import Message
from kithkin.tags.models import CustomerTag
from kithkin.tasks.models import Task
from tests.lists.seeding import seed


@pytest.fixture
def seeded(store_engine: Engine) -> tuple[Engine, dict[str, int]]:
    with session_scope(store_engine) as session:
        ids = seed(session)
    return store_engine, ids


def _names(session: Session, spec: ListSpec, **kw: Any) -> set[str]:
    of = list_service.audience(session=session, spec=spec, **kw)
    found = set(session.scalars(select(Customer.first_name).where(*of.where)))
    assert list_service.size(session=session, of=of) == len(found)
    return {n for n in found if n}


@pytest.mark.parametrize(("spec", "expected"), [
    ({}, {"Ada", "Alan", "Grace", "Kath"}),  # the merged-away record is nobody's
    ({"stage": "friend", "stage_model": "journey"}, {"Alan", "Grace"}),
    ({"value_tier": "most_growable"}, {"Alan", "Kath"}),
    ({"at_risk": True}, {"Alan", "Grace"}),
    ({"at_risk": False}, {"Ada"}),  # Kath's P(alive) is unknown: neither
    ({"clv_min": 200}, {"Ada", "Alan"}),
    ({"clv_min": 100, "clv_max": 300}, {"Alan", "Grace"}),
    ({"segment_kind": "rfm_segment", "segment": "champions"}, {"Ada"}),
    ({"level": "proactive", "level_kind": "stage:journey"}, {"Alan", "Grace"}),  # override
    ({"level": "accountable", "level_kind": "stage:journey"}, set()),
    ({"level": "partnership", "stage_model": "journey"}, {"Ada"}),
    ({"moved_down_since": "2025-06-01"}, {"Alan"}),
    ({"moved_down_since": "2025-01-01", "moved_down_model": "journey"}, {"Alan", "Grace"}),
    ({"consent_channel": "email"}, {"Ada", "Alan"}),  # opted out and never asked: no
    ({"tags": ["VIP"]}, {"Ada", "Grace"}),
    ({"exclude_tags": ["vip"]}, {"Alan", "Kath"}),
    ({"tags": ["vip"], "at_risk": True}, {"Grace"}),
])
def test_each_filter(seeded: tuple[Engine, dict[str, int]], spec: dict[str, Any],
                     expected: set[str]) -> None:
    engine, _ = seeded
    with session_scope(engine) as session:
        assert _names(session, ListSpec.model_validate(spec)) == expected


def test_account_manager_filter_and_agent_scope(seeded: tuple[Engine, dict[str, int]]
                                                ) -> None:
    engine, ids = seeded
    with session_scope(engine) as session:
        assert _names(session, ListSpec(account_manager_id=ids["agent"])) == {"Ada", "Alan"}
        book = CustomerScope(ids["agent"])
        assert _names(session, ListSpec(at_risk=True), scope=book) == {"Alan"}


@pytest.mark.parametrize(("spec", "field"), [
    ({"clv_min": 5, "clv_max": 1}, "clv_min"),
    ({"segment": "champions"}, "segment_kind"),
    ({"tags": ["a b!"]}, "tags"),
    ({"tags": ["x"], "exclude_tags": ["X"]}, "both required and excluded"),
    ({"colour": "red"}, "colour"),
    ({"level": "best"}, "level"),
    ({"level_kind": "favourite"}, "level_kind"),
])
def test_bad_specs_are_refused_naming_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        load(spec, where="list 7")


def test_stored_spec_of_another_version_is_refused() -> None:
    with pytest.raises(ValidationError, match="list 7: filter version 2"):
        load({"version": 2}, where="list 7")


def test_names_are_unique(seeded: tuple[Engine, dict[str, int]]) -> None:
    engine, _ = seeded
    with session_scope(engine) as session:
        list_service.create_list(session=session, name="VIPs", spec=ListSpec(tags=["vip"]))
        with pytest.raises(ConflictError, match="VIPs"):
            list_service.create_list(session=session, name="VIPs", spec=ListSpec())


def test_members_pages_and_export(seeded: tuple[Engine, dict[str, int]]) -> None:
    engine, ids = seeded
    with session_scope(engine) as session:
        of = list_service.audience(session=session, spec=ListSpec())
        first = list_service.members_page(session=session, of=of, limit=3)
        assert [r.customer.first_name for r in first.rows] == ["Ada", "Alan", "Grace"]
        assert first.rows[0].clv == 900.0 and first.rows[0].stage is None  # no model given
        rest = list_service.members_page(session=session, of=of, limit=3,
                                         after=first.next_cursor)
        assert [r.customer.first_name for r in rest.rows] == ["Kath"]
        assert rest.next_cursor is None
        of = list_service.audience(session=session, spec=ListSpec(stage_model="journey"),
                                   consent_channel="email")
        text = "".join(export.csv_chunks(session=session, of=of, batch=1))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["first_name"] for r in rows] == ["Ada", "Alan"]
    assert rows[0]["stage"] == "partner" and rows[0]["clv"] == "900.0"
    assert rows[0]["account_manager"] == "agent@example.com"
    assert rows[0]["customer_id"] == str(ids["Ada"])


def _run(session: Session, list_id: int, params: dict[str, Any], key: str | None = None,
         **kw: Any) -> Any:
    saved = list_service.get_list(session=session, list_id=list_id)
    request = ActionRequest.model_validate({"request_key": key, "params": params})
    of = list_service.audience(session=session, spec=list_service.spec_of(saved), **kw)
    return actions.run_action(session=session, settings=get_settings(), saved=saved, of=of,
                              params=request.params,
                              request_key=request.request_key, via="cli")


def test_bulk_tasks_tags_and_assignment(seeded: tuple[Engine, dict[str, int]]) -> None:
    engine, ids = seeded
    with session_scope(engine) as session:
        at_risk = list_service.create_list(session=session, name="at risk",
                                           spec=ListSpec(at_risk=True)).id
    with session_scope(engine) as session:
        run = _run(session, at_risk, {"action": "create_tasks", "title": "Call them",
                                      "team": "retention", "due_in_days": 3}, key="k1")
        assert (run.status, run.members, run.affected) == (RunStatus.DONE, 2, 2)
        again = _run(session, at_risk, {"action": "create_tasks", "title": "Call them",
                                        "team": "retention", "due_in_days": 3}, key="k1")
        assert again.id == run.id and again.affected == 2  # the same run: nothing new
        tasks = session.scalars(select(Task).order_by(Task.customer_id)).all()
        assert [(t.customer_id, t.owner_id, t.team, t.reason) for t in tasks] == [
            (ids["Alan"], ids["agent"], "retention", f"list:{at_risk}"),
            (ids["Grace"], None, "retention", f"list:{at_risk}")]
        assert tasks[0].dedupe_key == f"list:{at_risk}:{run.id}:{ids['Alan']}"
        assert tasks[0].due_at is not None and tasks[0].status == "open"
        with pytest.raises(ValidationError, match="different"):
            _run(session, at_risk, {"action": "add_tag", "tag": "x"}, key="k1")
        second = _run(session, at_risk, {"action": "create_tasks", "title": "Call again"})
        assert second.affected == 2 and second.id != run.id  # a new run, new tasks
        tagged = _run(session, at_risk, {"action": "add_tag", "tag": "Winback 2025"})
        assert tagged.affected == 2
        assert _run(session, at_risk, {"action": "add_tag", "tag": "winback-2025"}
                    ).affected == 0  # they have it already
        assert session.scalar(select(func.count()).select_from(CustomerTag).where(
            CustomerTag.tag == "winback-2025")) == 2
        moved = _run(session, at_risk, {"action": "assign_manager",
                                        "account_manager_id": ids["manager"]})
        assert moved.affected == 2
        assert _run(session, at_risk, {"action": "assign_manager",
                                       "account_manager_id": ids["manager"]}).affected == 0
        assert session.get(Customer, ids["Grace"]).account_manager_id == ids["manager"]
        assert session.get(Customer, ids["Ada"]).account_manager_id == ids["agent"]
        with pytest.raises(ValidationError, match="not an active staff user"):
            _run(session, at_risk, {"action": "assign_manager", "account_manager_id": 999})
        runs = list_service.runs(session=session, list_id=at_risk)
        assert [r.action for r in runs][:1] == ["assign_manager"] and len(runs) == 6


def test_queue_message_through_the_outbox_in_batches(
        seeded: tuple[Engine, dict[str, int]], monkeypatch: pytest.MonkeyPatch) -> None:
    engine, ids = seeded
    monkeypatch.setattr(actions, "MESSAGE_BATCH", 1)
    with session_scope(engine) as session:
        everyone = list_service.create_list(session=session, name="all", spec=ListSpec()).id
    with session_scope(engine) as session:
        params = {"action": "queue_message", "template": "generic", "subject": "Hello",
                  "body": "News"}
        run = _run(session, everyone, params, key="send-1")
        # Ada opted out and Alan was never asked: the outbox stores their messages as
        # skipped (with the reason), so only two are queued.
        assert (run.members, run.affected, run.skipped) == (4, 2, 2)
        assert _run(session, everyone, params, key="send-1").affected == 2
        messages = session.scalars(select(Message).order_by(Message.customer_id)).all()
        assert len(messages) == 4
        assert messages[0].dedupe_key == f"list:{everyone}:{run.id}:{ids['Ada']}"
        assert messages[0].context == {"list": "all", "subject": "Hello", "body": "News"}
        assert messages[0].reason == f"list:{everyone}"


def test_a_failed_run_is_recorded_and_resumed(seeded: tuple[Engine, dict[str, int]],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    engine, _ = seeded
    with session_scope(engine) as session:
        everyone = list_service.create_list(session=session, name="all", spec=ListSpec()).id
    calls = {"n": 0}
    real = actions.outbox_bulk.queue_messages_for

    def flaky(**kw: Any) -> Counter[str]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("SMTP relay unreachable")
        return real(**kw)

    monkeypatch.setattr(actions, "MESSAGE_BATCH", 1)
    monkeypatch.setattr(actions.outbox_bulk, "queue_messages_for", flaky)
    params = {"action": "queue_message", "template": "generic"}
    with session_scope(engine) as session, pytest.raises(RuntimeError):
        _run(session, everyone, params, key="r")
    with session_scope(engine) as session:
        failed = list_service.runs(session=session, list_id=everyone)[0]
        assert failed.status == RunStatus.FAILED and "SMTP" in (failed.error or "")
        resumed = _run(session, everyone, params, key="r")
        assert resumed.id == failed.id and resumed.status == RunStatus.DONE
        assert session.scalar(select(func.count()).select_from(Message)) == 4
        assert calls["n"] == 5  # two before the failure, the failed one, two after


def test_moved_down_since_reads_a_date(seeded: tuple[Engine, dict[str, int]]) -> None:
    assert ListSpec.model_validate({"moved_down_since": "2025-06-01"}).moved_down_since == \
        date(2025, 6, 1)
