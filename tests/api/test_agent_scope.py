"""Agents see and touch only the customers they are account manager of; managers assign."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from kithkin.analytics import service as metrics_service
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.interactions.models import Interaction
from kithkin.memberships.models import Membership
from kithkin.relationships.models import RelationshipRun, StageChange
from kithkin.transactions.models import Transaction
from kithkin.users.models import Role

T0 = datetime(2024, 1, 1, tzinfo=UTC)
Headers = dict[str, str]


@pytest.fixture
def book(client: TestClient, make_user: Callable[..., tuple[int, str]],
         add_customers: Callable[..., list[int]], assign_customers: Callable[..., None],
         sqlite_engine: Engine) -> dict[str, Any]:
    """Customers 1-2 belong to Ann (agent), 3 to Bob (agent), 4 to nobody; each has an
    order, an interaction, a membership, metrics and a downward stage move."""
    ann_id, ann = make_user(Role.AGENT, email="ann@example.com")
    bob_id, bob = make_user(Role.AGENT, email="bob@example.com")
    _, manager = make_user(Role.MANAGER, email="boss@example.com")
    ids = add_customers(4)
    assign_customers("ann@example.com", ids[:2])
    assign_customers("bob@example.com", ids[2:3])
    with session_scope(sqlite_engine) as session:
        for n, cid in enumerate(ids):
            session.add(Transaction(source="shop", order_id=f"o{n}", customer_id=cid,
                                    ordered_at=T0, amount=10.0 + n))
            session.add(Interaction(source="crm", external_id=f"i{n}", customer_id=cid,
                                    occurred_at=T0, kind="call", direction="inbound"))
            session.add(Membership(source="shop", external_id=f"m{n}", customer_id=cid,
                                   kind="loyalty", programme="Club", started_at=T0))
            session.add(StageChange(customer_id=cid, model="journey", as_of=date(2024, 6, 30),
                                    from_stage="friend", to_stage="acquaintance",
                                    from_rank=2, to_rank=1,
                                    direction="down", evidence="{}"))
        session.add(RelationshipRun(as_of=date(2024, 6, 30), customers=4, changes=4,
                                    moved_down=4))
        metrics_service.replace_as_of(
            session=session, as_of=date(2024, 6, 30),
            metrics=pa.table({"customer_id": ids, "orders": [1, 1, 1, 1],
                              "clv": [10.0, 20.0, 30.0, 40.0]}),
            run={"engine": "duckdb"})
    return {"ids": ids, "ann": {"X-API-Key": ann}, "bob": {"X-API-Key": bob},
            "manager": {"X-API-Key": manager}, "ann_id": ann_id, "bob_id": bob_id}


def _ids(response: Any, field: str = "id") -> list[int]:
    assert response.status_code == 200, response.text
    return sorted(item[field] for item in response.json()["items"])


def test_agents_list_only_their_customers(client: TestClient, book: dict[str, Any]) -> None:
    ids, ann, manager = book["ids"], book["ann"], book["manager"]
    assert _ids(client.get("/api/v1/customers", headers=ann)) == ids[:2]
    assert _ids(client.get("/api/v1/customers", headers=book["bob"])) == ids[2:3]
    assert _ids(client.get("/api/v1/customers", headers=manager)) == ids
    assert _ids(client.get("/api/v1/customers", headers=manager,
                           params={"account_manager_id": book["ann_id"]})) == ids[:2]
    listed = client.get("/api/v1/customers", headers=ann).json()["items"]
    assert {c["account_manager_id"] for c in listed} == {book["ann_id"]}
    for kind, field in (("transactions", "customer_id"), ("interactions", "customer_id"),
                        ("memberships", "customer_id")):
        assert _ids(client.get(f"/api/v1/{kind}", headers=ann), field) == ids[:2], kind
        assert _ids(client.get(f"/api/v1/{kind}", headers=manager), field) == ids, kind
    assert _ids(client.get("/api/v1/analytics/metrics", headers=ann), "customer_id") == ids[:2]
    down = client.get("/api/v1/relationships/reports/moved-down", headers=ann).json()
    assert sorted(row["customer_id"] for row in down) == ids[:2]


def test_agents_are_refused_other_customers(client: TestClient, book: dict[str, Any],
                                            sqlite_engine: Engine) -> None:
    ids, ann = book["ids"], book["ann"]
    mine, bobs, nobodys = ids[0], ids[2], ids[3]
    assert client.get(f"/api/v1/customers/{mine}", headers=ann).status_code == 200
    for other in (bobs, nobodys):
        for path in (f"/api/v1/customers/{other}", f"/api/v1/relationships/customers/{other}",
                     f"/api/v1/analytics/customers/{other}/metrics"):
            refused = client.get(path, headers=ann)
            assert refused.status_code == 403, path
            assert "not assigned to you" in refused.json()["detail"]
        assert client.patch(f"/api/v1/customers/{other}", json={"city": "Oslo"},
                            headers=ann).status_code == 403
        call = {"customer_id": other, "occurred_at": "2024-05-02T09:30:00Z", "kind": "call",
                "direction": "outbound"}
        assert client.post("/api/v1/interactions", json=call, headers=ann).status_code == 403
    assert client.get("/api/v1/customers/999", headers=ann).status_code == 404
    with session_scope(sqlite_engine) as session:
        assert session.get(Customer, bobs).city is None  # nothing was written
        rows = {kind: {row.customer_id: row.id for row in session.query(model)}
                for kind, model in (("transactions", Transaction),
                                    ("interactions", Interaction),
                                    ("memberships", Membership))}
    for kind, by_customer in rows.items():
        assert client.get(f"/api/v1/{kind}/{by_customer[mine]}", headers=ann).status_code == 200
        assert client.get(f"/api/v1/{kind}/{by_customer[bobs]}", headers=ann).status_code == 403
    # Views spanning every customer are not for agents.
    assert client.get("/api/v1/identity/duplicates", headers=ann).status_code == 403
    batch = {"kind": "interactions", "records": [{"source": "crm", "external_id": "e1"}]}
    assert client.post("/api/v1/events/batch", json=batch, headers=ann).status_code == 403


def test_a_customer_an_agent_creates_is_theirs(client: TestClient,
                                               book: dict[str, Any]) -> None:
    created = client.post("/api/v1/customers", json={"external_id": "new-1"},
                          headers=book["ann"])
    assert created.status_code == 201, created.text
    assert created.json()["account_manager_id"] == book["ann_id"]
    assert created.json()["id"] in _ids(client.get("/api/v1/customers", headers=book["ann"]))


def test_managers_assign_all_or_nothing(client: TestClient, book: dict[str, Any]) -> None:
    ids, ann, manager = book["ids"], book["ann"], book["manager"]
    move = {"customer_ids": [ids[3]], "account_manager_id": book["ann_id"]}
    assert client.post("/api/v1/customers/assign", json=move, headers=ann).status_code == 403
    assert client.post("/api/v1/customers/assign", json=move,
                       headers=manager).json() == {"assigned": 1}
    assert client.post("/api/v1/customers/assign", json=move,
                       headers=manager).json() == {"assigned": 0}  # idempotent
    assert _ids(client.get("/api/v1/customers", headers=ann)) == [ids[0], ids[1], ids[3]]
    unknown = client.post("/api/v1/customers/assign", headers=manager, json={
        "customer_ids": [ids[0], 999], "account_manager_id": book["bob_id"]})
    assert unknown.status_code == 404 and "999" in unknown.json()["detail"]
    not_staff = client.post("/api/v1/customers/assign", headers=manager, json={
        "customer_ids": [ids[0]], "account_manager_id": 12345})
    assert not_staff.status_code == 422
    assert "account_manager_id" in not_staff.json()["detail"]
    # Neither failed request moved customer 1 away from Ann.
    assert ids[0] in _ids(client.get("/api/v1/customers", headers=ann))
    unassign = {"customer_ids": ids[:2], "account_manager_id": None}
    assert client.post("/api/v1/customers/assign", json=unassign,
                       headers=manager).json() == {"assigned": 2}
    assert _ids(client.get("/api/v1/customers", headers=ann)) == [ids[3]]
