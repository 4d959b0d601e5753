"""Customers: create, update, the 360 view, PII export and erasure; problem+json errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select

from kithkin.customers.models import Customer
from kithkin.database.base import Base
from kithkin.database.core import session_scope
from kithkin.interactions.models import Interaction
from kithkin.memberships.models import Membership
from kithkin.transactions.models import Transaction, TransactionLine
from kithkin.users.models import Role

T0 = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture
def manager(keys: dict[Role, str]) -> dict[str, str]:
    return {"X-API-Key": keys[Role.MANAGER]}


def create(client: TestClient, headers: dict[str, str], **fields: object) -> dict[str, object]:
    payload = {"source": "crm", "external_id": "ext-1", "first_name": "Ada",
               "last_name": "Lovelace", "email": " ADA@Example.COM ", "phone": "+33 6 12 34 56 78",
               "city": "Paris", "country": "fr", "date_of_birth": "1990-12-10",
               "consents": {"email": "granted", "sms": "denied"}, **fields}
    response = client.post("/api/v1/customers", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def add_history(engine: Engine, customer_id: int) -> None:
    with session_scope(engine) as session:
        for n in range(12):
            session.add(Transaction(
                source="shop", order_id=f"o{n}", customer_id=customer_id,
                ordered_at=T0 + timedelta(days=n), amount=10.0 + n, cost=4.0,
                lines=[TransactionLine(line_no=1, sku="SKU1", quantity=1, unit_price=10.0 + n)],
            ))
        session.add(Interaction(source="desk", external_id="i1", customer_id=customer_id,
                                occurred_at=T0, direction="inbound", kind="complaint",
                                subject="Late parcel", text="My parcel is late, call me on 0612"))
        session.add(Membership(source="shop", external_id="m1", customer_id=customer_id,
                               kind="loyalty", programme="Club", tier="gold", started_at=T0))
        session.execute(insert(Base.metadata.tables["customer_metric"]).values(
            as_of=date(2024, 6, 1), customer_id=customer_id, orders=12, clv=321.5))


def test_create_normalises_and_get_returns_the_360(client: TestClient,
                                                   manager: dict[str, str],
                                                   sqlite_engine: Engine) -> None:
    created = create(client, manager)
    customer_id = created["id"]
    assert created["email"] == " ADA@Example.COM "
    assert created["country"] == "FR"
    assert created["identifiers"][0]["external_id"] == "ext-1"  # type: ignore[index]
    with session_scope(sqlite_engine) as session:
        row = session.get_one(Customer, customer_id)
        assert row.email_normalized == "ada@example.com" and row.phone_e164 == "+33612345678"
    assert isinstance(customer_id, int)
    add_history(sqlite_engine, customer_id)
    detail = client.get(f"/api/v1/customers/{customer_id}", headers=manager).json()
    assert {c["channel"]: c["status"] for c in detail["consents"]} == {
        "email": "granted", "sms": "denied"}
    orders = [t["order_id"] for t in detail["recent_transactions"]]
    assert orders == [f"o{n}" for n in range(11, 1, -1)]  # newest ten, newest first
    assert detail["recent_transactions"][0]["margin"] == pytest.approx(17.0)
    assert detail["recent_interactions"][0]["kind"] == "complaint"
    assert detail["memberships"][0]["tier"] == "gold"
    assert detail["metrics"]["clv"] == pytest.approx(321.5)
    assert detail["metrics"]["as_of"] == "2024-06-01"
    transaction_id = detail["recent_transactions"][0]["id"]
    one = client.get(f"/api/v1/transactions/{transaction_id}", headers=manager).json()
    assert one["lines"][0]["sku"] == "SKU1"
    listed = client.get("/api/v1/transactions", params={"customer_id": customer_id,
                                                         "limit": 5}, headers=manager).json()
    assert len(listed["items"]) == 5 and listed["next_cursor"]


def test_patch_changes_only_what_is_sent(client: TestClient, manager: dict[str, str]) -> None:
    customer_id = create(client, manager)["id"]
    response = client.patch(f"/api/v1/customers/{customer_id}", headers=manager,
                            json={"city": "Lyon", "consents": {"email": "opted_out"}})
    assert response.status_code == 200
    body = response.json()
    assert body["city"] == "Lyon" and body["first_name"] == "Ada"
    assert {c["channel"]: c["status"] for c in body["consents"]} == {
        "email": "opted_out", "sms": "denied"}


def test_errors_are_problem_details(client: TestClient, manager: dict[str, str]) -> None:
    missing = client.get("/api/v1/customers/424242", headers=manager)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json() == {
        "type": "urn:kithkin:problem:not-found", "title": "Not Found", "status": 404,
        "detail": "customer 424242 does not exist", "instance": "/api/v1/customers/424242"}
    create(client, manager)
    clash = client.post("/api/v1/customers", headers=manager,
                        json={"source": "crm", "external_id": "ext-1"})
    assert clash.status_code == 409 and "already identifies" in clash.json()["detail"]
    invalid = client.post("/api/v1/customers", headers=manager,
                          json={"source": "crm", "country": "FRA", "consents": {"fax": "x"}})
    assert invalid.status_code == 422
    fields = {e["field"] for e in invalid.json()["errors"]}
    assert {"body.external_id", "body.country", "body.consents.fax.[key]"} <= fields
    bad_email = client.post("/api/v1/customers", headers=manager,
                            json={"external_id": "e2", "email": "not-an-email"})
    assert bad_email.status_code == 422
    assert bad_email.json()["errors"] == [
        {"field": "email", "message": "'not-an-email' is not an email address"}]


def test_export_contains_everything_stored(client: TestClient, manager: dict[str, str],
                                           sqlite_engine: Engine) -> None:
    customer_id = create(client, manager)["id"]
    assert isinstance(customer_id, int)
    add_history(sqlite_engine, customer_id)
    document = client.get(f"/api/v1/privacy/customers/{customer_id}/export",
                          headers=manager).json()
    assert document["profile"][0]["email"] == " ADA@Example.COM "
    sections = document["sections"]
    assert len(sections["transaction"]) == 12 and len(sections["transaction_line"]) == 12
    assert sections["interaction"][0]["text"].startswith("My parcel")
    assert sections["membership"][0]["programme"] == "Club"
    assert sections["customer_identifier"][0]["external_id"] == "ext-1"
    assert {c["channel"] for c in sections["consent"]} == {"email", "sms"}
    assert {c["source"] for c in sections["consent_event"]} == {"api"}
    assert sections["customer_metric"][0]["clv"] == pytest.approx(321.5)


def test_erase_removes_personal_data_but_keeps_history(
        client: TestClient, manager: dict[str, str], keys: dict[Role, str],
        bearer: Callable[[str], dict[str, str]], sqlite_engine: Engine) -> None:
    customer_id = create(client, manager)["id"]
    assert isinstance(customer_id, int)
    add_history(sqlite_engine, customer_id)
    erase_url = f"/api/v1/privacy/customers/{customer_id}/erase"
    assert client.post(erase_url, headers=bearer(keys[Role.AGENT])).status_code == 403
    erased = client.post(erase_url, headers=manager)
    assert erased.status_code == 200
    log = erased.json()
    assert log["customer_ids"] == [customer_id] and log["removed"]["identifiers"] == 1
    body = client.get(f"/api/v1/customers/{customer_id}", headers=manager).json()
    assert body["erased_at"] is not None
    for field in ("first_name", "last_name", "email", "phone", "city", "date_of_birth",
                  "address_line", "postcode", "attributes"):
        assert body[field] is None, field
    assert body["identifiers"] == []  # identities are deleted (and suppressed)
    with session_scope(sqlite_engine) as session:
        row = session.get_one(Customer, customer_id)
        assert row.email_normalized is None and row.phone_e164 is None
        texts = session.execute(select(Interaction.subject, Interaction.text)).all()
        assert texts == [(None, None)]
        assert len(session.scalars(select(Transaction)).all()) == 12
    again = client.post(erase_url, headers=manager)
    assert again.json()["id"] == log["id"]  # idempotent: no second log row
    assert client.patch(f"/api/v1/customers/{customer_id}", headers=manager,
                        json={"first_name": "Back"}).status_code == 409
