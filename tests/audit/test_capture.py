"""Large flushes and set-based writes leave summary rows, not one row per object."""

from __future__ import annotations

from sqlalchemy import Engine, select, update

from kithkin.audit.capture import BULK_THRESHOLD
from kithkin.audit.models import AuditLog
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope


def _kinds(engine: Engine) -> list[tuple[str, str | None, str | None]]:
    with session_scope(engine) as session:
        return [(r.kind, r.action, r.summary) for r in session.scalars(
            select(AuditLog).where(AuditLog.entity == "customer").order_by(AuditLog.id))]


def test_large_flushes_and_set_based_writes_are_summarised(sqlite_engine: Engine) -> None:
    count = BULK_THRESHOLD + 50
    with session_scope(sqlite_engine) as session:
        session.add_all([Customer(first_name=f"F{i}", country="FR") for i in range(count)])
    with session_scope(sqlite_engine) as session:
        for customer in session.scalars(select(Customer)):
            customer.city = "Lyon"
    with session_scope(sqlite_engine) as session:
        session.execute(update(Customer).where(Customer.country == "FR").values(city="Nice"))
    rows = _kinds(sqlite_engine)
    assert rows == [
        ("bulk", "insert", f"insert of {count} rows of customer"),
        ("bulk", "update", f"update of {count} rows of customer (city)"),
        ("bulk", "update", "set-based update of customer setting city where "
                           "customer.country = :country_1"),
    ]


def test_exports_are_audited(client: object, sqlite_engine: Engine, make_user: object,
                             add_customers: object) -> None:
    from fastapi.testclient import TestClient

    from kithkin.users.models import Role

    assert isinstance(client, TestClient)
    user_id, key = make_user(Role.MANAGER)  # type: ignore[operator]
    (customer_id,) = add_customers(1)  # type: ignore[operator]
    exported = client.get(f"/api/v1/privacy/customers/{customer_id}/export",
                          headers={"X-API-Key": key})
    assert exported.status_code == 200
    assert client.get("/api/v1/customers", headers={"X-API-Key": key}).status_code == 200
    with session_scope(sqlite_engine) as session:
        rows = list(session.scalars(select(AuditLog).where(AuditLog.kind == "export")))
    assert [(r.path, r.status, r.actor_user_id) for r in rows] == [
        (f"/api/v1/privacy/customers/{customer_id}/export", 200, user_id)]
