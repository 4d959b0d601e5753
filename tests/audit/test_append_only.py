"""Audit rows cannot be changed or deleted through the application, nor by a plain
UPDATE/DELETE of the app's database user; only erasure's scrub may blank values."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.exc import DBAPIError

from kithkin.audit import context as audit_context
from kithkin.audit import service as audit_service
from kithkin.audit.models import AuditLog
from kithkin.audit.service import ERASED
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope


def _customer_with_history(engine: Engine) -> int:
    with session_scope(engine) as session:
        customer = Customer(first_name="Ada", last_name="Lovelace", email="ada@example.com",
                            email_normalized="ada@example.com", country="GB")
        session.add(customer)
        session.flush()
        customer_id = customer.id
    with session_scope(engine) as session:
        row = session.get(Customer, customer_id)
        assert row is not None
        row.last_name = "King"
    return customer_id


def _rows(engine: Engine, customer_id: int) -> list[AuditLog]:
    with session_scope(engine) as session:
        return list(session.scalars(select(AuditLog).where(
            AuditLog.customer_id == customer_id).order_by(AuditLog.id)))


def test_changes_are_recorded_with_before_and_after(store_engine: Engine) -> None:
    actor = audit_context.AuditContext(source="scheduler", label="scheduler:test")
    with audit_context.acting(actor):
        customer_id = _customer_with_history(store_engine)
    inserted, updated = _rows(store_engine, customer_id)[:2]
    assert (inserted.entity, inserted.action, inserted.entity_id) == (
        "customer", "insert", str(customer_id))
    assert inserted.changes is not None and inserted.changes["first_name"] == [None, "Ada"]
    assert updated.action == "update"
    assert updated.changes == {"last_name": ["Lovelace", "King"]}
    assert (updated.source, updated.actor_label) == ("scheduler", "scheduler:test")
    assert updated.kind == "change"


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET actor_label = 'someone else'",
    "UPDATE audit_log SET changes = NULL",
    "UPDATE audit_log SET scrubbed = true",
    "DELETE FROM audit_log",
])
def test_plain_sql_cannot_rewrite_the_trail(store_engine: Engine, statement: str) -> None:
    _customer_with_history(store_engine)
    with store_engine.connect() as connection, pytest.raises(DBAPIError) as refused:
        connection.execute(text(statement))
    assert "append-only" in str(refused.value)
    if store_engine.dialect.name == "postgresql":
        with store_engine.connect() as connection, pytest.raises(DBAPIError):
            connection.execute(text("TRUNCATE audit_log"))


def test_the_orm_cannot_rewrite_the_trail(store_engine: Engine) -> None:
    customer_id = _customer_with_history(store_engine)
    with pytest.raises(DBAPIError), session_scope(store_engine) as session:
        row = session.scalars(select(AuditLog).where(AuditLog.customer_id == customer_id)
                              ).first()
        assert row is not None
        row.summary = "rewritten"
    with pytest.raises(DBAPIError), session_scope(store_engine) as session:
        session.execute(delete(AuditLog))
    with pytest.raises(DBAPIError), session_scope(store_engine) as session:
        session.execute(update(AuditLog).values(changes=None))
    assert all(row.summary is None for row in _rows(store_engine, customer_id)
               if row.kind == "change")


def test_scrub_blanks_values_of_an_erased_customer_only(store_engine: Engine) -> None:
    customer_id = _customer_with_history(store_engine)
    other_id = _customer_with_history(store_engine)
    with session_scope(store_engine) as session:
        assert audit_service.scrub_customer(session, customer_id) == 2
    rows = _rows(store_engine, customer_id)
    inserted, updated = rows[:2]
    assert updated.changes == {"last_name": [ERASED, ERASED]} and updated.scrubbed
    assert inserted.changes is not None and inserted.changes["first_name"] == [None, ERASED]
    assert "Ada" not in str([r.changes for r in rows])
    assert rows[-1].action == "scrub" and rows[-1].changes is None
    untouched = _rows(store_engine, other_id)[1]
    assert untouched.changes == {"last_name": ["Lovelace", "King"]}
    # The privileged path closed with the transaction: plain updates fail again.
    with store_engine.connect() as connection, pytest.raises(DBAPIError):
        connection.execute(text("UPDATE audit_log SET changes = NULL"))
    # Scrubbing twice is a no-op (already scrubbed rows are skipped).
    with session_scope(store_engine) as session:
        assert audit_service.scrub_customer(session, customer_id) == 0


def test_scrub_cannot_touch_other_columns(store_engine: Engine) -> None:
    customer_id = _customer_with_history(store_engine)
    from kithkin.audit import guard

    with pytest.raises(DBAPIError), session_scope(store_engine) as session:
        connection = session.connection()
        guard.begin_scrub(connection, customer_id)
        connection.execute(update(AuditLog).values(actor_label="forged"))


def test_erasure_through_the_api_leaves_no_values_in_the_trail(
        client: object, sqlite_engine: Engine, make_user: object) -> None:
    from fastapi.testclient import TestClient

    from kithkin.users.models import Role

    assert isinstance(client, TestClient)
    key = make_user(Role.MANAGER)[1]  # type: ignore[operator]
    headers = {"X-API-Key": key}
    created = client.post("/api/v1/customers", headers=headers, json={
        "external_id": "grace", "first_name": "Grace", "last_name": "Hopper",
        "email": "grace@example.com"})
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]
    assert client.patch(f"/api/v1/customers/{customer_id}", headers=headers,
                        json={"city": "Arlington"}).status_code == 200
    assert client.post("/api/v1/interactions", headers=headers, json={
        "customer_id": customer_id, "occurred_at": "2024-03-01T10:00:00Z",
        "kind": "complaint", "direction": "inbound", "text": "Grace's private note"}
    ).status_code in (200, 201)
    before = str([r.changes for r in _rows(sqlite_engine, customer_id)])
    assert "Hopper" in before and "private note" in before
    erased = client.post(f"/api/v1/privacy/customers/{customer_id}/erase", headers=headers)
    assert erased.status_code == 200, erased.text
    rows = _rows(sqlite_engine, customer_id)
    after = str([(r.changes, r.summary) for r in rows])
    for value in ("Grace", "Hopper", "grace@example.com", "Arlington", "private note"):
        assert value not in after, value
    assert any(r.changes and "last_name" in r.changes for r in rows)  # names stay
