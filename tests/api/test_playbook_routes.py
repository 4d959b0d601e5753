"""/api/v1/playbooks: roles, validate/install, dry-run, run once, report, a customer's
level; events run the event-fed rules after ingestion."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from kithkin.database.core import session_scope
from kithkin.outbox.models import Message
from kithkin.playbooks.models import PlaybookRun
from kithkin.users.models import Role
from tests.playbooks.crafted import AS_OF, no_holdout, seed

API = "/api/v1/playbooks"
BAD = """[playbook]
name = "mine"
level = "reactive"

[[rules]]
name = "after"
trigger = "purchase"

[[rules.actions]]
action = "message"
template = "after_purchase_reactive"
channel = "pigeon"
"""


def key(keys: dict[Role, str], role: Role) -> dict[str, str]:
    return {"X-API-Key": keys[role]}


def test_roles_enforced(client: TestClient, keys: dict[Role, str]) -> None:
    assert client.get(API).status_code == 401
    assert client.get(API, headers=key(keys, Role.AGENT)).status_code == 403
    assert client.get(API, headers=key(keys, Role.ANALYST)).status_code == 200
    assert client.post(f"{API}/run", json={}, headers=key(keys, Role.ANALYST)).status_code == 403
    assert client.post(f"{API}/install", json={"text": BAD},
                       headers=key(keys, Role.ANALYST)).status_code == 403


def test_validate_and_install(client: TestClient, keys: dict[Role, str],
                              workspace: Path) -> None:
    admin = key(keys, Role.ADMIN)
    found = client.post(f"{API}/validate", json={"text": BAD, "filename": "mine.toml"},
                        headers=admin).json()
    assert found["valid"] is False and found["line"] == 12 and found["rule"] == "after"
    assert "channel must be one of" in found["problem"]
    refused = client.post(f"{API}/install", json={"text": BAD}, headers=admin)
    assert refused.status_code == 422 and not (workspace / "playbooks").exists()
    good = BAD.replace('channel = "pigeon"\n', "")
    installed = client.post(f"{API}/install", json={"text": good}, headers=admin)
    assert installed.status_code == 201 and installed.json()["name"] == "mine"
    names = [b["name"] for b in client.get(API, headers=admin).json()]
    assert "mine" in names and "partnership" in names


def test_dry_run_run_and_report(client: TestClient, keys: dict[Role, str],
                                sqlite_engine: Engine, workspace: Path) -> None:
    no_holdout(workspace)
    seed(sqlite_engine)
    manager = key(keys, Role.MANAGER)
    preview = client.post(f"{API}/dry-run", json={"as_of": AS_OF.isoformat()},
                          headers=manager).json()
    assert preview["dry_run"] and sum(r["messages"] for r in preview["rules"]) == 5
    first = client.post(f"{API}/run", json={"as_of": AS_OF.isoformat()}, headers=manager)
    assert first.status_code == 200
    # the crafted customers have no consent or address: every message is held back on
    # its firing, none is stored
    assert sum(r["messages"] for r in first.json()["rules"]) == 0
    assert sum(sum(r["skipped"].values()) for r in first.json()["rules"]) == 5
    again = client.post(f"{API}/run", json={"as_of": AS_OF.isoformat()}, headers=manager)
    assert sum(r["new"] for r in again.json()["rules"]) == 0
    runs = client.get(f"{API}/runs", headers=manager).json()
    assert [(r["messages"], r["skipped"]) for r in runs] == [(0, 0), (0, 5)]
    rows = client.get(f"{API}/report", params={"as_of": AS_OF.isoformat()},
                      headers=manager).json()
    checkin = next(r for r in rows if r["rule"] == "checkin")
    assert checkin["level"] == "accountable" and checkin["messages"] == 0
    assert sum(n for k, n in checkin["skipped"].items() if k.startswith("message:")) == 1
    held = client.get(f"{API}/held-back", headers=manager).json()
    assert len(held) == 5 and all(h["reason"] for h in held)
    one = client.get(f"{API}/held-back", params={"customer_id": held[0]["customer_id"]},
                     headers=manager).json()
    assert [h["firing_id"] for h in one] == [held[0]["firing_id"]]
    assert "too few to tell" in checkin["comparison"]["bought_30d"]["verdict"]


def test_customer_level_override(client: TestClient, keys: dict[Role, str],
                                 add_customers: object) -> None:
    [customer] = add_customers(1)  # type: ignore[operator]
    manager = key(keys, Role.MANAGER)
    done = client.put(f"{API}/customers/{customer}/level", json={"level": "partnership"},
                      headers=manager)
    assert done.status_code == 200 and done.json()["level"] == "partnership"
    bad = client.put(f"{API}/customers/{customer}/level", json={"level": "best"},
                     headers=manager)
    assert bad.status_code == 422
    cleared = client.delete(f"{API}/customers/{customer}/level", headers=manager).json()
    assert cleared == {"customer_id": customer, "level": None, "source": "none"}


def test_an_order_event_runs_the_event_rules(client: TestClient, keys: dict[Role, str],
                                             sqlite_engine: Engine, workspace: Path,
                                             add_customers: object) -> None:
    """A purchase pushed today gets the reactive level's message without a refresh."""
    from datetime import UTC, datetime

    no_holdout(workspace)
    [customer] = add_customers(1)  # type: ignore[operator]
    manager = key(keys, Role.MANAGER)
    client.put(f"{API}/customers/{customer}/level", json={"level": "reactive"},
               headers=manager)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sent = client.post("/api/v1/events", headers=manager, json={
        "kind": "transactions", "record": {"source": "shop", "order_id": "o-1",
                                           "customer_external_id": "c0",
                                           "customer_source": "shop",
                                           "ordered_at": now, "amount": 20.0}})
    assert sent.status_code == 200, sent.text
    deadline = time.monotonic() + 10
    templates: list[str] = []
    while time.monotonic() < deadline and not templates:
        with session_scope(sqlite_engine) as session:
            templates = list(session.scalars(select(Message.template).where(
                Message.customer_id == customer)))
            runs = session.scalar(select(func.count()).where(PlaybookRun.mode == "events"))
        time.sleep(0.1)
    assert templates == ["after_purchase_reactive"] and runs
