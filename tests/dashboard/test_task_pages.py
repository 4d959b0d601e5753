"""The Tasks page and the work forms of the customer 360: log an interaction, create a
task, edit preferences; agents work only their own book, every form needs its CSRF
token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from kithkin.database.core import session_scope
from kithkin.interactions.models import Interaction
from kithkin.preferences.models import CustomerPreference
from kithkin.tasks import service as task_service
from kithkin.tasks.models import Task
from kithkin.users import service as user_service
from tests.dashboard.seeding import email_of, form_token

Login = Callable[[str], TestClient]
NOW = datetime.now(UTC)


def _user_id(role: str) -> int:
    with session_scope() as session:
        return user_service.get_user_by_email(session=session, email=email_of(role)).id


def _task(**fields: object) -> int:
    with session_scope() as session:
        return task_service.create_task(session=session, **fields).id  # type: ignore[arg-type]


def test_log_a_call_and_a_complaint_from_the_customer_page(seeded: dict[str, int],
                                                           login: Login) -> None:
    client = login("agent")
    path = f"/customers/{seeded['lovelace']}"
    page = client.get(path).text
    assert "Log an interaction" in page and "Create a task" in page
    token = form_token(page)
    logged = client.post(f"{path}/interactions", data={
        "csrf_token": token, "kind": "call", "direction": "outbound", "channel": "phone",
        "text": "Asked how the new kettle works", "tags": "kettle, follow-up"})
    assert logged.status_code == 303 and logged.headers["location"] == path
    complaint = client.post(f"{path}/interactions", data={
        "csrf_token": token, "kind": "complaint", "direction": "inbound",
        "subject": "Broken lid", "text": "The lid broke on day two", "score": "2",
        "score_scale": "csat"})
    assert complaint.status_code == 303
    shown = client.get(path).text
    assert "Complaint logged." in shown
    timeline = shown.split('id="timeline-h"')[1]
    assert "Broken lid" in timeline and "#kettle #follow-up" in timeline
    assert timeline.index("Broken lid") < timeline.index("Asked how the new kettle works")
    bad = client.post(f"{path}/interactions", data={
        "csrf_token": token, "kind": "survey_response", "score": "12",
        "score_scale": "nps"})
    assert bad.status_code == 303
    assert "not saved: score: 12.0 is outside nps range" in client.get(path).text
    with session_scope() as session:
        rows = session.scalars(select(Interaction).where(
            Interaction.customer_id == seeded["lovelace"], Interaction.source == "staff")
        ).all()
        assert sorted(r.kind for r in rows) == ["call", "complaint"]
        assert all(r.staff_user_id == _user_id("agent") for r in rows)
    # No CSRF token: refused, nothing written.
    assert client.post(f"{path}/interactions", data={"kind": "call"}).status_code == 403
    # Another agent's (or nobody's) customer: refused.
    other = client.post(f"/customers/{seeded['hopper']}/interactions",
                        data={"csrf_token": token, "kind": "call"})
    assert other.status_code == 403


def test_create_a_task_and_edit_preferences_on_the_360(seeded: dict[str, int],
                                                       login: Login) -> None:
    client = login("agent")
    path = f"/customers/{seeded['turing']}"
    token = form_token(client.get(path).text)
    created = client.post(f"{path}/tasks", data={
        "csrf_token": token, "title": "Send the manual", "due": "2020-02-01",
        "priority": "high"})
    assert created.status_code == 303
    page = client.get(path).text
    assert "Send the manual" in page and "overdue" in page.split('id="ctasks-h"')[1]
    saved = client.post(f"{path}/preferences", data={
        "csrf_token": token, "categories": "jazz, Books, jazz", "brands": "Acme",
        "channels": ["sms", "email"], "notes": "Calls after 6pm"})
    assert saved.status_code == 303
    prefs = client.get(path).text.split('id="prefs-h"')[1]
    assert "jazz, Books" in prefs and "Calls after 6pm" in prefs
    with session_scope() as session:
        task = session.scalars(select(Task).where(Task.title == "Send the manual")).one()
        assert (task.owner_id, task.customer_id, task.priority) == (
            _user_id("agent"), seeded["turing"], "high")
        row = session.scalars(select(CustomerPreference)).one()
        assert (row.categories, row.channels, row.item_count) == (
            ["jazz", "Books"], ["sms", "email"], 6)
    # Analysts read the 360 but get no forms, and cannot post them either.
    client.post("/logout", data={"csrf_token": token})
    analyst = login("analyst")
    page = analyst.get(path).text
    assert "Log an interaction" not in page and "Edit preferences" not in page
    denied = analyst.post(f"{path}/preferences", data={"csrf_token": form_token(page),
                                                       "notes": "x"})
    assert denied.status_code == 403


def test_agent_works_only_their_queue(seeded: dict[str, int], login: Login) -> None:
    agent_id, manager_id = _user_id("agent"), _user_id("manager")
    late = _task(title="Late call", customer_id=seeded["lovelace"], owner_id=agent_id,
                 due_at=NOW - timedelta(days=2))
    soon = _task(title="Soon call", customer_id=seeded["turing"], owner_id=agent_id,
                 due_at=NOW + timedelta(days=2), priority="urgent")
    unowned = _task(title="Unowned for Ada", customer_id=seeded["lovelace"])
    others = _task(title="Hopper thing", customer_id=seeded["hopper"],
                   owner_id=manager_id)
    client = login("agent")
    page = client.get("/tasks").text
    assert "1 overdue" in page and "Hopper thing" not in page
    assert page.index("Late call") < page.index("Soon call") < page.index("Unowned for Ada")
    everything = client.get("/tasks", params={"view": "all", "status": ""}).text
    assert "Hopper thing" not in everything and "Late call" in everything
    token = form_token(page)
    done = client.post(f"/tasks/{late}/done", data={"csrf_token": token,
                                                    "outcome": "Reached, happy"})
    assert done.status_code == 303 and done.headers["location"] == "/tasks"
    later = (NOW + timedelta(days=5)).date().isoformat()
    client.post(f"/tasks/{soon}/snooze", data={"csrf_token": token, "until": later})
    page = client.get("/tasks").text
    assert "Late call" not in page and "Soon call" not in page and "Unowned for Ada" in page
    client.post(f"/tasks/{unowned}/reassign", data={"csrf_token": token,
                                                    "owner_id": str(manager_id),
                                                    "next": "/customers/1"})
    assert client.post(f"/tasks/{others}/done", data={
        "csrf_token": token, "outcome": "x"}).status_code == 403
    missing = client.post(f"/tasks/{soon}/done", data={"csrf_token": token, "outcome": " "})
    assert missing.status_code == 303
    assert "Not saved: outcome: say what was done" in client.get("/tasks").text
    with session_scope() as session:
        assert (session.get(Task, late).status, session.get(Task, late).outcome) == (
            "done", "Reached, happy")
        assert session.get(Task, soon).status == "snoozed"
        assert session.get(Task, unowned).owner_id == manager_id
        assert session.get(Task, others).status == "open"


def test_tasks_page_roles(seeded: dict[str, int], login: Login) -> None:
    manager = login("manager")
    nav = manager.get("/tasks").text
    assert '<a href="/tasks"' in nav
    client = manager
    client.post("/logout", data={"csrf_token": form_token(nav)})
    analyst = login("analyst")
    assert analyst.get("/tasks").status_code == 403
