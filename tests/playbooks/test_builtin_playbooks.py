"""Each built-in playbook on crafted customers and a fixed clock: the right tasks and
messages, once, also when runs repeat or overlap."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from kithkin.config import get_settings
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.outbox.models import Message
from kithkin.playbooks import service
from kithkin.playbooks.models import PlaybookFiring
from kithkin.playbooks.workspace import available_playbooks
from kithkin.tasks.models import Task
from tests.playbooks.crafted import AS_OF, no_holdout, seed


def _created(engine: Engine) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """customer -> task reasons, customer -> message templates: the messages stored and
    those held back at queue time (recorded on their firing, not as a message)."""
    tasks: dict[int, list[str]] = {}
    messages: dict[int, list[str]] = {}
    books = available_playbooks(home=get_settings().home)
    with session_scope(engine) as session:
        for customer, why in session.execute(select(Task.customer_id, Task.reason)):
            tasks.setdefault(customer, []).append(why)
        for customer, template in session.execute(select(Message.customer_id,
                                                          Message.template)):
            messages.setdefault(customer, []).append(template)
        for customer, book, rule in session.execute(select(
                PlaybookFiring.customer_id, PlaybookFiring.playbook, PlaybookFiring.rule)
                .where(PlaybookFiring.skip_reason.like("message:%"))):
            found = next(r for r in books[book].rules if r.name == rule)
            messages.setdefault(customer, []).extend(
                a.params["template"] for a in found.actions if a.action == "message")
    return tasks, messages


EXPECTED_TASKS = {
    "reactive_complainer": ["playbook:reactive:complaint_opened"],
    "accountable_unhappy": ["playbook:accountable:low_score"],
    "accountable_unresolved": ["playbook:accountable:complaint_unresolved"],
    "proactive_down": ["playbook:proactive:moved_down"],
    "proactive_ending": ["playbook:proactive:membership_ending"],
    "proactive_idea": ["playbook:proactive:idea_received"],
    "partner_quiet": ["playbook:partnership:gone_quiet"],
    "partner_complainer": ["playbook:partnership:complaint"],
}
EXPECTED_MESSAGES = {
    "reactive_buyer": ["after_purchase_reactive"],
    "accountable_due": ["checkin_accountable"],
    "proactive_90": ["satisfaction_proactive"],
    "proactive_180": ["new_uses_proactive"],
    "proactive_anniversary": ["satisfaction_proactive"],
}


def _check(engine: Engine, ids: dict[str, int]) -> None:
    tasks, messages = _created(engine)
    names = {v: k for k, v in ids.items()}
    assert {names[c]: sorted(v) for c, v in tasks.items()} == EXPECTED_TASKS
    assert {names[c]: sorted(v) for c, v in messages.items()} == EXPECTED_MESSAGES
    with session_scope(engine) as session:
        managers = {c: m for c, m in session.execute(
            select(Customer.id, Customer.account_manager_id))}
        owner = session.scalar(select(Task.owner_id).where(
            Task.customer_id == ids["partner_quiet"]))
    # the partner who bought got an account manager; basic and the others did not
    assert managers[ids["partner_buyer"]] is not None
    assert managers[ids["partner_active"]] is not None
    assert managers[ids["basic_buyer"]] is None and managers[ids["reactive_buyer"]] is None
    assert owner is None  # the quiet partner bought 120 days ago: none assigned then


def test_each_builtin_playbook_once(sqlite_engine: Engine, workspace: Path) -> None:
    no_holdout(workspace)
    ids = seed(sqlite_engine)
    settings = get_settings()
    first = service.run(engine=sqlite_engine, settings=settings, as_of=AS_OF)
    _check(sqlite_engine, ids)
    assert first.totals["tasks"] == len(EXPECTED_TASKS)
    # the crafted customers without consent or address: held back on their firings
    assert first.totals["messages"] == 0
    assert first.totals["skipped"] == len(EXPECTED_MESSAGES)
    again = service.run(engine=sqlite_engine, settings=settings, as_of=AS_OF)
    assert again.totals["new"] == 0 and again.totals["tasks"] == 0
    assert again.totals["due"] == first.totals["due"]
    _check(sqlite_engine, ids)  # nothing twice


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_set_based_path_same_result(store: str, request: pytest.FixtureRequest,
                                    workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bulk insert (ON CONFLICT DO NOTHING) creates what the services create."""
    from kithkin.playbooks import actions

    monkeypatch.setattr(actions, "SERVICE_ROWS", 0)
    engine: Engine = request.getfixturevalue("sqlite_engine" if store == "sqlite"
                                             else "pg_engine")
    no_holdout(workspace)
    ids = seed(engine)
    first = service.run(engine=engine, settings=get_settings(), as_of=AS_OF)
    second = service.run(engine=engine, settings=get_settings(), as_of=AS_OF)
    _check(engine, ids)
    assert first.totals["tasks"] == len(EXPECTED_TASKS), first.rules
    assert second.totals["new"] == 0


def test_dry_run_shows_and_writes_nothing(sqlite_engine: Engine, workspace: Path) -> None:
    no_holdout(workspace)
    seed(sqlite_engine)
    with session_scope(sqlite_engine) as session:
        report = service.dry_run(session=session, settings=get_settings(), as_of=AS_OF)
    assert report.dry_run and report.totals["tasks"] == len(EXPECTED_TASKS)
    assert report.totals["messages"] == len(EXPECTED_MESSAGES)
    line = next(r for r in report.rules if r.rule == "checkin")
    assert line.examples and line.examples[0]["occurred_on"] == "2026-03-07"
    assert _created(sqlite_engine) == ({}, {})
    with session_scope(sqlite_engine) as session:
        assert session.scalar(select(func.count()).select_from(PlaybookFiring)) == 0


def test_lapse_occurrence_names_its_episode(sqlite_engine: Engine, workspace: Path) -> None:
    no_holdout(workspace)
    ids = seed(sqlite_engine)
    service.run(engine=sqlite_engine, settings=get_settings(), as_of=AS_OF)
    with session_scope(sqlite_engine) as session:
        occurrence, day = session.execute(select(
            PlaybookFiring.occurrence, PlaybookFiring.occurred_on).where(
            PlaybookFiring.customer_id == ids["partner_quiet"],
            PlaybookFiring.trigger == "lapse")).one()
    assert occurrence == f"lapse:{day.isoformat()}" and day < AS_OF


def test_occurrence_recorded_on_an_earlier_day_is_not_new(sqlite_engine: Engine,
                                                          workspace: Path) -> None:
    """A firing recorded with a day before the window (the order's date was corrected
    since) is found by its key: neither the dry run nor the run counts it as new."""
    no_holdout(workspace)
    seed(sqlite_engine)
    first = service.run(engine=sqlite_engine, settings=get_settings(), as_of=AS_OF)
    with session_scope(sqlite_engine) as session:
        session.execute(update(PlaybookFiring).values(
            occurred_on=AS_OF - timedelta(days=400)))
    with session_scope(sqlite_engine) as session:
        report = service.dry_run(session=session, settings=get_settings(), as_of=AS_OF)
    assert report.totals["due"] == first.totals["due"] > 0
    assert report.totals["new"] == 0
    again = service.run(engine=sqlite_engine, settings=get_settings(), as_of=AS_OF)
    assert again.totals["new"] == 0 and again.totals["tasks"] == 0


def _overlapping(engine_factory: object, settings: object, runs: int = 2) -> list[Exception]:
    errors: list[Exception] = []
    barrier = threading.Barrier(runs)

    def one() -> None:
        engine = engine_factory()  # type: ignore[operator]
        try:
            barrier.wait()
            service.run(engine=engine, settings=settings, as_of=AS_OF)  # type: ignore[arg-type]
        except Exception as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=one) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_overlapping_runs_create_each_once(store: str, request: pytest.FixtureRequest,
                                           workspace: Path) -> None:
    from kithkin.database.core import build_engine

    engine: Engine = request.getfixturevalue("sqlite_engine" if store == "sqlite"
                                             else "pg_engine")
    no_holdout(workspace)
    ids = seed(engine)
    settings = get_settings()
    errors = _overlapping(lambda: build_engine(str(engine.url.render_as_string(
        hide_password=False))), settings)
    assert errors == []
    _check(engine, ids)
    with session_scope(engine) as session:
        firings = session.scalar(select(func.count()).select_from(PlaybookFiring))
    assert firings == len(EXPECTED_TASKS) + len(EXPECTED_MESSAGES) + 2  # + the 2 AM firings


def test_tag_and_list_enrolment_actions(sqlite_engine: Engine, workspace: Path) -> None:
    """A workspace playbook replacing the reactive one tags each buyer and enrols them
    in a list (the list's ``list:<name>`` tag)."""
    from importlib import resources

    from kithkin.playbooks.workspace import install_text
    from kithkin.tags import service as tag_service

    no_holdout(workspace)
    ids = seed(sqlite_engine)
    text = resources.files("kithkin.playbooks").joinpath("builtin/reactive.toml").read_text()
    text = text.replace('template = "after_purchase_reactive"\npurpose = "service"\n',
                        'template = "after_purchase_reactive"\npurpose = "service"\n\n'
                        '[[rules.actions]]\naction = "add_tag"\ntag = "bought-recently"\n\n'
                        '[[rules.actions]]\naction = "enrol_list"\nlist = "welcome"\n', 1)
    install_text(text, file="reactive.toml", home=workspace)
    service.run(engine=sqlite_engine, settings=get_settings(), as_of=AS_OF)
    service.run(engine=sqlite_engine, settings=get_settings(), as_of=AS_OF)
    with session_scope(sqlite_engine) as session:
        tags = tag_service.tags_of(session=session, customer_id=ids["reactive_buyer"])
        others = tag_service.tags_of(session=session, customer_id=ids["basic_buyer"])
    assert tags == ["bought-recently", "list:welcome"] and others == []


QUEUE_TIME = {  # customer -> (template, status), as the outbox decides
    "proactive_180": ("new_uses_proactive", "queued"),
    "proactive_anniversary": ("satisfaction_proactive", "queued"),
}
HELD_BACK = {  # customer -> their firing's skip reason: no message stored
    "reactive_buyer": "message:no e-mail address",
    "accountable_due": "message:opted out",
    "proactive_90": "message:consent denied",
}


@pytest.mark.parametrize("path", ["services", "set", "decided"])
@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_queue_time_checks_on_both_paths(store: str, path: str,
                                          request: pytest.FixtureRequest, workspace: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Erasure, consent for the message's purpose and an address are checked when a
    message is queued, by the per-row services and by the set-based insert alike; a
    message that passes is rendered then, one that fails is not stored: its firing
    says why, and the run counts it skipped ("decided": the refusals read while the
    run plans and recorded with the firings, as a run over many customers does)."""
    from kithkin.playbooks import actions
    from kithkin.privacy.consent import ConsentChange, record

    if path in ("set", "decided"):
        monkeypatch.setattr(actions, "SERVICE_ROWS", 0)
    monkeypatch.setattr(service, "DECIDE_SHARE", 10**6 if path == "decided" else 0)
    engine: Engine = request.getfixturevalue("sqlite_engine" if store == "sqlite"
                                             else "pg_engine")
    no_holdout(workspace)
    ids = seed(engine)
    with session_scope(engine) as session:
        for name in ("accountable_due", "proactive_90", "proactive_180",
                     "proactive_anniversary"):
            session.get(Customer, ids[name]).email = f"{name}@example.com"  # type: ignore[union-attr]
        for name, purpose, status in [("accountable_due", "service", "opted_out"),
                                      ("proactive_90", "service", "denied"),
                                      ("proactive_180", "marketing", "granted")]:
            record(session=session, change=ConsentChange(
                customer_id=ids[name], channel="email", status=status, source="form",
                purpose=purpose))
    report = service.run(engine=engine, settings=get_settings(), as_of=AS_OF)
    names = {v: k for k, v in ids.items()}
    with session_scope(engine) as session:
        found = {names[m.customer_id]: (m.template, m.status)
                 for m in session.scalars(select(Message))}
        bodies = {names[m.customer_id]: m.body for m in session.scalars(select(Message))
                  if m.status == "queued"}
        held = {names[f.customer_id]: f.skip_reason for f in session.scalars(
            select(PlaybookFiring).where(PlaybookFiring.skip_reason.is_not(None)))}
    assert found == QUEUE_TIME
    assert held == HELD_BACK
    assert all(bodies.values()) and set(bodies) == {"proactive_180", "proactive_anniversary"}
    skipped: dict[str, int] = {}
    for line in report.rules:
        for reason, count in line.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
    assert skipped == {"message:no e-mail address": 1, "message:opted out": 1,
                       "message:consent denied": 1}


@pytest.mark.parametrize("path", ["services", "set", "decided"])
def test_held_back_keeps_the_first_reason_and_counts_each(
        path: str, sqlite_engine: Engine, workspace: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule with two messages for a buyer with an e-mail address but no phone and no
    marketing consent: the service e-mail is queued, the SMS is held back, and a third
    (marketing e-mail) too; the firing keeps the first reason, the run counts both, and
    a repeated run (after consent is given) sends nothing more for that firing."""
    from importlib import resources

    from kithkin.playbooks import actions
    from kithkin.playbooks.workspace import install_text
    from kithkin.privacy.consent import ConsentChange, record

    if path in ("set", "decided"):
        monkeypatch.setattr(actions, "SERVICE_ROWS", 0)
    monkeypatch.setattr(service, "DECIDE_SHARE", 10**6 if path == "decided" else 0)
    no_holdout(workspace)
    ids = seed(sqlite_engine)
    with session_scope(sqlite_engine) as session:
        session.get(Customer, ids["reactive_buyer"]).email = "rb@example.com"  # type: ignore[union-attr]
    text = resources.files("kithkin.playbooks").joinpath("builtin/reactive.toml").read_text()
    text = text.replace('template = "after_purchase_reactive"\npurpose = "service"\n',
                        'template = "after_purchase_reactive"\npurpose = "service"\n\n'
                        '[[rules.actions]]\naction = "message"\n'
                        'template = "after_purchase_reactive"\npurpose = "service"\n'
                        'channel = "sms"\n\n'
                        '[[rules.actions]]\naction = "message"\ntemplate = "winback"\n', 1)
    install_text(text, file="reactive.toml", home=workspace)
    report = service.run(engine=sqlite_engine, settings=get_settings(), as_of=AS_OF)
    [line] = [r for r in report.rules if r.rule == "tell_us"]
    assert (line.messages, line.skipped) == (1, {"message:no phone number": 1,
                                                 "message:no consent": 1})
    with session_scope(sqlite_engine) as session:
        reason = session.scalar(select(PlaybookFiring.skip_reason).where(
            PlaybookFiring.customer_id == ids["reactive_buyer"]))
        record(session=session, change=ConsentChange(
            customer_id=ids["reactive_buyer"], channel="email", status="granted",
            source="form", purpose="marketing"))
    assert reason == "message:no phone number"
    service.run(engine=sqlite_engine, settings=get_settings(), as_of=AS_OF)
    with session_scope(sqlite_engine) as session:
        sent = list(session.scalars(select(Message.template).where(
            Message.customer_id == ids["reactive_buyer"])))
    assert sent == ["after_purchase_reactive"]  # no winback for the old firing
