"""/api/v1/messages: queue a one-off (consent applies), list and filter, get, counts,
retry; roles and the agent's book enforced server-side."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.users.models import Role
from tests.api.conftest import AddCustomers, MakeUser

Bearer = Callable[[str], dict[str, str]]


def test_queue_list_get_counts_and_retry(client: TestClient, keys: dict[Role, str],
                                         bearer: Bearer, add_customers: AddCustomers) -> None:
    customer = add_customers(1)[0]
    admin = bearer(keys[Role.ADMIN])
    skipped = client.post("/api/v1/messages", headers=admin, json={
        "customer_id": customer, "template": "winback"})
    assert skipped.status_code == 201, skipped.text
    assert (skipped.json()["status"], skipped.json()["skip_reason"]) == ("skipped",
                                                                        "no consent")
    service = client.post("/api/v1/messages", headers=admin, json={
        "customer_id": customer, "template": "generic", "purpose": "service",
        "context": {"subject": "Your repair", "body": "It is ready."},
        "dedupe_key": "repair-1"})
    body = service.json()
    assert (body["status"], body["subject"], body["reason"]) == ("queued", "Your repair",
                                                                 "person")
    again = client.post("/api/v1/messages", headers=admin, json={
        "customer_id": customer, "template": "generic", "purpose": "service",
        "context": {"subject": "Other", "body": "x"}, "dedupe_key": "repair-1"})
    assert again.json()["id"] == body["id"]
    dead = client.post("/api/v1/messages", headers=admin, json={
        "customer_id": customer, "template": "no_such_template", "purpose": "service"})
    assert dead.json()["status"] == "dead"
    assert "not found" in dead.json()["last_error"]

    listed = client.get("/api/v1/messages", headers=admin, params={"status": "dead"})
    assert [m["id"] for m in listed.json()["items"]] == [dead.json()["id"]]
    newest_first = client.get("/api/v1/messages", headers=admin).json()["items"]
    assert [m["id"] for m in newest_first] == sorted((m["id"] for m in newest_first),
                                                     reverse=True)
    assert client.get(f"/api/v1/messages/{body['id']}", headers=admin).json()["body"] == \
        "It is ready.\n"
    counts = client.get("/api/v1/messages/counts", headers=admin).json()["counts"]
    assert (counts["queued"], counts["skipped"], counts["dead"], counts["sent"]) == (1, 1, 1, 0)

    retried = client.post(f"/api/v1/messages/{dead.json()['id']}/retry", headers=admin)
    assert retried.status_code == 200 and retried.json()["status"] == "dead"  # still broken
    refused = client.post(f"/api/v1/messages/{skipped.json()['id']}/retry", headers=admin)
    assert refused.status_code == 409
    missing = client.post("/api/v1/messages", headers=admin, json={
        "customer_id": 999_999, "template": "winback"})
    assert missing.status_code == 404


def test_roles_and_the_agents_book(client: TestClient, sqlite_engine: Engine,
                                   make_user: MakeUser, keys: dict[Role, str],
                                   bearer: Bearer, add_customers: AddCustomers) -> None:
    mine, other = add_customers(2)
    agent_id, agent_key = make_user(Role.AGENT, email="own-agent@example.com")
    with session_scope(sqlite_engine) as session:
        session.execute(update(Customer).where(Customer.id == mine)
                        .values(account_manager_id=agent_id))
    payload = {"template": "winback", "purpose": "service"}
    agent = bearer(agent_key)
    assert client.post("/api/v1/messages", headers=agent,
                       json={**payload, "customer_id": mine}).status_code == 201
    assert client.post("/api/v1/messages", headers=agent,
                       json={**payload, "customer_id": other}).status_code == 403
    theirs = client.post("/api/v1/messages", headers=bearer(keys[Role.ADMIN]),
                         json={**payload, "customer_id": other}).json()
    assert client.get(f"/api/v1/messages/{theirs['id']}", headers=agent).status_code == 403
    assert [m["customer_id"] for m in client.get("/api/v1/messages",
                                                 headers=agent).json()["items"]] == [mine]
    analyst = bearer(keys[Role.ANALYST])
    assert client.get("/api/v1/messages", headers=analyst).status_code == 200
    assert client.post("/api/v1/messages", headers=analyst,
                       json={**payload, "customer_id": mine}).status_code == 403
    assert client.post(f"/api/v1/messages/{theirs['id']}/retry",
                       headers=analyst).status_code == 403
    assert client.get("/api/v1/messages").status_code == 401
    read_only = make_user(Role.MANAGER, email="ro@example.com", scopes=["outbox:read"])[1]
    assert client.post("/api/v1/messages", headers=bearer(read_only),
                       json={**payload, "customer_id": mine}).status_code == 403
