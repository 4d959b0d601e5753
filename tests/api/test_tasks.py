"""/api/v1/tasks: roles, the agent's book, the queue's order and the task's life cycle."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from kithkin.database.core import session_scope
from kithkin.tasks import service as task_service
from kithkin.tasks.models import Task
from kithkin.users.models import Role

NOW = datetime.now(UTC)


@pytest.fixture
def book(client: TestClient, make_user: Callable[..., tuple[int, str]],
         add_customers: Callable[..., list[int]], assign_customers: Callable[..., None],
         sqlite_engine: Engine) -> dict[str, Any]:
    """Customers 1-2 are Ann's (agent), 3 Bob's (agent), 4 nobody's."""
    ann_id, ann = make_user(Role.AGENT, email="ann@example.com")
    bob_id, bob = make_user(Role.AGENT, email="bob@example.com")
    boss_id, boss = make_user(Role.MANAGER, email="boss@example.com")
    _, analyst = make_user(Role.ANALYST, email="analyst@example.com")
    ids = add_customers(4)
    assign_customers("ann@example.com", ids[:2])
    assign_customers("bob@example.com", ids[2:3])
    return {"ids": ids, "ann": {"X-API-Key": ann}, "bob": {"X-API-Key": bob},
            "boss": {"X-API-Key": boss}, "analyst": {"X-API-Key": analyst},
            "ann_id": ann_id, "bob_id": bob_id, "boss_id": boss_id}


def _add(engine: Engine, **fields: Any) -> int:
    with session_scope(engine) as session:
        return task_service.create_task(session=session, **fields).id


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_create_defaults_to_the_caller_and_is_idempotent_on_dedupe_key(
        client: TestClient, book: dict[str, Any]) -> None:
    body = {"title": "Call about the late parcel", "customer_id": book["ids"][0],
            "priority": "high", "dedupe_key": "parcel-1"}
    first = client.post("/api/v1/tasks", json=body, headers=book["ann"])
    assert first.status_code == 201, first.text
    task = first.json()
    assert (task["owner_id"], task["created_by_id"], task["reason"], task["status"]) == (
        book["ann_id"], book["ann_id"], "person", "open")
    again = client.post("/api/v1/tasks", json=body, headers=book["ann"])
    assert again.status_code == 200 and again.json()["id"] == task["id"]
    # A key taken by a task Bob cannot see is a conflict, not a leak of that task.
    taken = client.post("/api/v1/tasks", json={**body, "customer_id": book["ids"][2]},
                        headers=book["bob"])
    assert taken.status_code == 409 and "cannot see" in taken.json()["detail"]
    team = client.post("/api/v1/tasks", json={"title": "Sort returns", "team": "service"},
                       headers=book["boss"]).json()
    assert (team["owner_id"], team["team"]) == (None, "service")


def test_create_task_twice_in_a_row_and_concurrently_makes_one(
        store_engine: Engine) -> None:
    """The contract other sessions rely on: same dedupe_key, same task, even when two
    transactions race (PostgreSQL: the second insert waits on the first's unique key)."""
    import threading

    with session_scope(store_engine) as session:
        first = task_service.create_task(session=session, title="t", dedupe_key="k1")
        assert task_service.create_task(session=session, title="t",
                                        dedupe_key="k1") is first
    if store_engine.dialect.name != "postgresql":
        return
    results: list[int] = []
    from sqlalchemy.orm import Session

    a = Session(store_engine)
    held = task_service.create_task(session=a, title="race", dedupe_key="k2")
    a.flush()  # the row is written but not committed: b's insert must wait for it

    def second() -> None:
        with Session(store_engine) as b:
            results.append(task_service.create_task(session=b, title="race",
                                                    dedupe_key="k2").id)
            b.commit()

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.5)
    assert thread.is_alive()  # blocked on a's unique key
    a.commit()
    thread.join(10)
    assert results == [held.id]
    a.close()
    with session_scope(store_engine) as session:
        assert session.scalar(select(func.count()).select_from(Task).where(
            Task.dedupe_key == "k2")) == 1


def test_roles(client: TestClient, book: dict[str, Any], sqlite_engine: Engine) -> None:
    task_id = _add(sqlite_engine, title="x", customer_id=book["ids"][3])
    assert client.get("/api/v1/tasks").status_code == 401
    assert client.get(f"/api/v1/tasks/{task_id}", headers=book["analyst"]).status_code == 200
    for method, path, body in (("post", "/api/v1/tasks", {"title": "y"}),
                               ("patch", f"/api/v1/tasks/{task_id}", {"priority": "low"}),
                               ("post", f"/api/v1/tasks/{task_id}/done", {"outcome": "ok"})):
        refused = client.request(method, path, json=body, headers=book["analyst"])
        assert refused.status_code == 403, path
    assert client.get("/api/v1/tasks/999999", headers=book["boss"]).status_code == 404


def test_agent_sees_and_works_only_their_book(client: TestClient, book: dict[str, Any],
                                              sqlite_engine: Engine) -> None:
    ids = book["ids"]
    of_ann = _add(sqlite_engine, title="Ann's customer", customer_id=ids[0])
    handed = _add(sqlite_engine, title="Owned by Ann", customer_id=ids[3],
                  owner_id=book["ann_id"])
    of_bob = _add(sqlite_engine, title="Bob's customer", customer_id=ids[2],
                  owner_id=book["bob_id"])
    loose = _add(sqlite_engine, title="Nobody's customer", customer_id=ids[3])
    assert sorted(_ids(client.get("/api/v1/tasks", headers=book["ann"]))) == [of_ann, handed]
    assert _ids(client.get("/api/v1/tasks", headers=book["bob"])) == [of_bob]
    assert sorted(_ids(client.get("/api/v1/tasks", headers=book["boss"]))) == sorted(
        [of_ann, handed, of_bob, loose])
    for other in (of_bob, loose):
        assert client.get(f"/api/v1/tasks/{other}", headers=book["ann"]).status_code == 403
        for action, body in (("done", {"outcome": "x"}), ("snooze", {
                "until": (NOW + timedelta(days=1)).isoformat()}), ("reopen", None),
                ("cancel", None)):
            response = client.post(f"/api/v1/tasks/{other}/{action}", json=body,
                                   headers=book["ann"])
            assert response.status_code == 403, action
        assert client.patch(f"/api/v1/tasks/{other}", json={"owner_id": book["ann_id"]},
                            headers=book["ann"]).status_code == 403
    refused = client.post("/api/v1/tasks", json={"title": "x", "customer_id": ids[2]},
                          headers=book["ann"])
    assert refused.status_code == 403 and "not assigned to you" in refused.json()["detail"]
    with session_scope(sqlite_engine) as session:
        assert session.get(Task, of_bob).status == "open"  # nothing was written


def test_queue_overdue_first_then_priority_then_due(client: TestClient, book: dict[str, Any],
                                                    sqlite_engine: Engine) -> None:
    ann, ids = book["ann_id"], book["ids"]
    later = _add(sqlite_engine, title="later", owner_id=ann, due_at=NOW + timedelta(days=3))
    undated = _add(sqlite_engine, title="undated", owner_id=ann)
    urgent = _add(sqlite_engine, title="urgent", owner_id=ann, priority="urgent",
                  due_at=NOW + timedelta(days=9))
    late = _add(sqlite_engine, title="late", owner_id=ann, due_at=NOW - timedelta(days=1))
    later_late = _add(sqlite_engine, title="very late", owner_id=ann,
                      due_at=NOW - timedelta(days=5))
    soon = _add(sqlite_engine, title="soon", owner_id=ann, due_at=NOW + timedelta(days=1))
    unowned = _add(sqlite_engine, title="unowned, Ann's customer", customer_id=ids[0],
                   due_at=NOW + timedelta(days=2))
    _add(sqlite_engine, title="team's", customer_id=ids[0], team="service")
    _add(sqlite_engine, title="Bob's", owner_id=book["bob_id"])
    woke = _add(sqlite_engine, title="snooze ran out", owner_id=ann)
    asleep = _add(sqlite_engine, title="still snoozed", owner_id=ann)
    done = _add(sqlite_engine, title="done", owner_id=ann)
    with session_scope(sqlite_engine) as session:
        session.get(Task, woke).status = "snoozed"
        session.get(Task, woke).snoozed_until = NOW - timedelta(hours=1)
        session.get(Task, asleep).status = "snoozed"
        session.get(Task, asleep).snoozed_until = NOW + timedelta(days=1)
        session.get(Task, done).status = "done"
    expected = [later_late, late, urgent, soon, unowned, later, undated, woke]
    mine = client.get("/api/v1/tasks/mine", headers=book["ann"])
    assert _ids(mine) == expected
    items = {item["id"]: item for item in mine.json()["items"]}
    assert items[late]["overdue"] and not items[soon]["overdue"]
    assert items[woke]["status"] == "open"
    # Paged two at a time, the same order.
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/tasks/mine", params={"limit": 2, "after": cursor} if cursor
                          else {"limit": 2}, headers=book["ann"]).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == expected
    assert client.get("/api/v1/tasks/mine", params={"after": "bogus"},
                      headers=book["ann"]).status_code == 422
    overdue = _ids(client.get("/api/v1/tasks", params={"overdue": "true"},
                              headers=book["ann"]))
    assert sorted(overdue) == sorted([late, later_late])
    snoozed = _ids(client.get("/api/v1/tasks", params={"status": "snoozed"},
                              headers=book["ann"]))
    assert snoozed == [asleep]


def test_life_cycle_reassign_snooze_done_reopen_cancel(client: TestClient,
                                                       book: dict[str, Any]) -> None:
    boss, ann = book["boss"], book["ann"]
    task = client.post("/api/v1/tasks", json={"title": "Check-in call",
                                              "customer_id": book["ids"][0]},
                       headers=boss).json()
    path = f"/api/v1/tasks/{task['id']}"
    moved = client.patch(path, json={"owner_id": book["ann_id"]}, headers=boss)
    assert moved.status_code == 200 and moved.json()["owner_id"] == book["ann_id"]
    assert client.patch(path, json={"owner_id": None}, headers=boss).status_code == 422
    assert client.patch(path, json={"owner_id": 999999}, headers=boss).status_code == 422
    past = client.post(f"{path}/snooze", json={"until": "2020-01-01T00:00:00Z"}, headers=ann)
    assert past.status_code == 422 and "not in the future" in past.json()["detail"]
    until = (NOW + timedelta(days=2)).replace(microsecond=0)
    snoozed = client.post(f"{path}/snooze", json={"until": until.isoformat()}, headers=ann)
    assert snoozed.json()["status"] == "snoozed"
    assert task["id"] not in _ids(client.get("/api/v1/tasks/mine", headers=ann))
    blank = client.post(f"{path}/done", json={"outcome": " "}, headers=ann)
    assert blank.status_code == 422
    done = client.post(f"{path}/done", json={"outcome": "Happy, ordered again"}, headers=ann)
    body = done.json()
    assert (body["status"], body["outcome"], body["closed_by_id"], body["snoozed_until"]) == (
        "done", "Happy, ordered again", book["ann_id"], None)
    # A retried request is a no-op; another outcome is a conflict.
    assert client.post(f"{path}/done", json={"outcome": "Happy, ordered again"},
                       headers=ann).status_code == 200
    assert client.post(f"{path}/done", json={"outcome": "other"},
                       headers=ann).status_code == 409
    assert client.patch(path, json={"priority": "low"}, headers=ann).status_code == 409
    assert client.post(f"{path}/cancel", headers=ann).status_code == 409
    reopened = client.post(f"{path}/reopen", headers=ann).json()
    assert (reopened["status"], reopened["outcome"], reopened["closed_at"]) == (
        "open", None, None)
    cancelled = client.post(f"{path}/cancel", json={"note": "customer moved away"},
                            headers=ann).json()
    assert (cancelled["status"], cancelled["outcome"]) == ("cancelled", "customer moved away")
    assert client.post(f"{path}/cancel", headers=ann).status_code == 200
