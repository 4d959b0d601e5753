"""`kithkin tasks`, `kithkin customers log` and `kithkin customers preferences`, end to end
on a fresh workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from kithkin.cli.main import app
from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.database.core import get_engine, session_scope
from kithkin.database.manage import upgrade
from kithkin.interactions.models import Interaction
from kithkin.tasks.models import Task
from kithkin.users import service as user_service

WIDE = {"COLUMNS": "200"}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=WIDE)
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def store(workspace: Path) -> dict[str, int]:
    upgrade(get_engine())
    with session_scope() as session:
        ann = user_service.create_user(session=session, email="ann@x.test", name="Ann",
                                       password="longpassword1", role="agent")
        user_service.create_user(session=session, email="boss@x.test", name="Boss",
                                 password="longpassword1", role="manager")
        ids = {}
        for n, (first, last) in enumerate([("Ada", "Lovelace"), ("Alan", "Turing")]):
            customer = Customer(first_name=first, last_name=last,
                                account_manager_id=ann.id if n == 0 else None,
                                identifiers=[CustomerIdentifier(source="shop",
                                                                external_id=f"C{n + 1}")])
            session.add(customer)
            session.flush()
            ids[last.lower()] = customer.id
        return ids


def _tasks(*args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(app, ["tasks", "list", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.output)
    return rows


def test_add_queue_and_work_tasks(store: dict[str, int]) -> None:
    assert run("tasks", "add", "Call Ada", "--customer", "C1", "--as", "ann@x.test",
               "--due", "3d", "--priority", "high")[0] == 0
    assert run("tasks", "add", "Overdue", "--customer", "C1", "--owner", "ann@x.test",
               "--due", "2020-01-01")[0] == 0
    assert run("tasks", "add", "Turing", "--customer", "C2", "--team", "service")[0] == 0
    code, out = run("tasks", "add", "nobody's", "--customer", "C2")
    assert code == 1 and "needs an owner or a team" in out
    mine = _tasks("--mine", "--as", "ann@x.test")
    assert [row["title"] for row in mine] == ["Overdue", "Call Ada"]
    assert [row["overdue"] for row in mine] == [True, False]
    code, out = run("tasks", "list", "--mine")
    assert code == 1 and "--as EMAIL" in out
    # Ann (an agent) does not see the team's task about a customer of nobody's.
    assert {row["title"] for row in _tasks("--as", "ann@x.test")} == {"Overdue", "Call Ada"}
    assert len(_tasks("--as", "boss@x.test")) == 3
    turing = next(row["id"] for row in _tasks("--team", "service"))
    code, out = run("tasks", "done", str(turing), "--outcome", "x", "--as", "ann@x.test")
    assert code == 1 and "is not yours" in out
    overdue = mine[0]["id"]
    assert run("tasks", "done", str(overdue), "--outcome", "Called: fine",
               "--as", "ann@x.test") == (0, f"task {overdue} is done")
    assert run("tasks", "snooze", str(mine[1]["id"]), "--until", "2d",
               "--as", "ann@x.test")[1].endswith("is snoozed")
    code, out = run("tasks", "snooze", str(mine[1]["id"]), "--until", "someday")
    assert code == 1 and "is not a date" in out
    assert run("tasks", "reassign", str(turing), "--owner", "ann@x.test",
               "--as", "boss@x.test")[0] == 0
    assert [row["title"] for row in _tasks("--mine", "--as", "ann@x.test")] == ["Turing"]
    assert [row["id"] for row in _tasks("--status", "done")] == [overdue]
    assert run("tasks", "reopen", str(overdue))[1] == f"task {overdue} is open"
    with session_scope() as session:
        task = session.get(Task, overdue)
        assert task is not None and task.outcome is None and task.status == "open"


def test_log_an_interaction_and_edit_preferences(store: dict[str, int]) -> None:
    code, out = run("customers", "log", "C1", "--kind", "complaint", "--direction",
                    "inbound", "--channel", "phone", "--text", "Parcel late", "--tag",
                    "delivery", "--as", "ann@x.test")
    assert code == 0 and "complaint with customer" in out
    code, out = run("customers", "log", "C2", "--kind", "call", "--as", "ann@x.test")
    assert code == 1 and "no customer matches" in out  # not in Ann's book
    code, out = run("customers", "log", "C1", "--kind", "call")
    assert code == 1 and "--as" in out
    with session_scope() as session:
        logged = session.scalars(select(Interaction)).one()
        assert (logged.kind, logged.tags, logged.text) == ("complaint", ["delivery"],
                                                           "Parcel late")
    assert run("customers", "preferences", "C1")[1].endswith("none known")
    code, out = run("customers", "preferences", "C1", "--category", "jazz", "--channel",
                    "SMS", "--notes", "mornings")
    assert code == 0 and "jazz" in out and "sms" in out and "mornings" in out
    code, out = run("customers", "preferences", "C1", "--brand", "Acme")
    assert "jazz" in out and "Acme" in out  # lists not given are kept
    code, out = run("customers", "preferences", "C1", "--channel", "fax")
    assert code == 1 and "'fax' is not one of" in out
