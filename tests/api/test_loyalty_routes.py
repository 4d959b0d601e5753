"""/customers/{id}/loyalty: statements, redemptions, adjustments, price locks, roles."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from kithkin.config import get_settings
from kithkin.database.core import session_scope
from kithkin.loyalty import ledger
from kithkin.loyalty import programme as loyalty_programme
from kithkin.loyalty.models import LoyaltyEntry
from kithkin.products.models import Product
from kithkin.transactions.models import Transaction
from kithkin.users.models import Role
from tests.loyalty.members import enrol

Headers = Callable[[str], dict[str, str]]


def _orders(engine: Engine, customer_id: int, amounts: list[float]) -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        enrol(session, customer_id)
        for n, amount in enumerate(amounts):
            session.add(Transaction(source="shop", order_id=f"L{customer_id}-{n}",
                                    customer_id=customer_id, amount=amount,
                                    ordered_at=now - timedelta(days=30 - n)))
        session.flush()
        ledger.grant(session, loyalty_programme.load(get_settings().home),
                     as_of=now.date())


def test_statement_redeem_and_adjust(client: TestClient, keys: dict[Role, str],
                                     bearer: Headers, add_customers: Callable[..., list[int]],
                                     sqlite_engine: Engine) -> None:
    (ada,) = add_customers(1)
    _orders(sqlite_engine, ada, [120.0, 480.0])  # default programme: 1/unit + 10/order
    url = f"/api/v1/customers/{ada}/loyalty"
    body = client.get(url, headers=bearer(keys[Role.ANALYST])).json()
    assert body["balance"] == 620 and body["tier"]["name"] == "silver"
    assert body["next_tier"]["name"] == "gold"
    assert [e["kind"] for e in body["entries"]] == ["earn", "earn"]

    redeem = {"points": 100, "request_key": "till-42"}
    first = client.post(f"{url}/redemptions", json=redeem, headers=bearer(keys[Role.AGENT]))
    assert first.status_code in (403, 404)  # not the agent's customer
    first = client.post(f"{url}/redemptions", json=redeem, headers=bearer(keys[Role.MANAGER]))
    again = client.post(f"{url}/redemptions", json=redeem, headers=bearer(keys[Role.MANAGER]))
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    too_much = client.post(f"{url}/redemptions", json={"points": 521},
                           headers=bearer(keys[Role.MANAGER]))
    assert too_much.status_code == 422 and "520 points" in too_much.json()["detail"]

    adjust = {"points": -20, "reason": "duplicate sign-up bonus"}
    assert client.post(f"{url}/adjustments", json=adjust,
                       headers=bearer(keys[Role.AGENT])).status_code == 403
    done = client.post(f"{url}/adjustments", json=adjust, headers=bearer(keys[Role.MANAGER]))
    assert done.status_code == 201 and done.json()["reason"] == "duplicate sign-up bonus"
    assert client.get(url, headers=bearer(keys[Role.MANAGER])).json()["balance"] == 500


def test_price_lock_needs_the_tier_benefit(client: TestClient, keys: dict[Role, str],
                                          bearer: Headers,
                                          add_customers: Callable[..., list[int]],
                                          sqlite_engine: Engine) -> None:
    small, big = add_customers(2)
    _orders(sqlite_engine, small, [50.0])
    _orders(sqlite_engine, big, [2500.0])
    with session_scope(sqlite_engine) as session:
        product = Product(sku="TEA-1", name="Tea", list_price=12.5)
        session.add(product)
        session.flush()
        product_id = product.id
    headers = bearer(keys[Role.MANAGER])
    refused = client.post(f"/api/v1/customers/{small}/loyalty/price-locks",
                          json={"product_id": product_id}, headers=headers)
    assert refused.status_code == 409 and "no 'price lock' benefit" in refused.json()["detail"]
    locked = client.post(f"/api/v1/customers/{big}/loyalty/price-locks",
                         json={"product_id": product_id, "days": 30}, headers=headers)
    assert locked.status_code == 201 and locked.json()["price"] == 12.5
    statement = client.get(f"/api/v1/customers/{big}/loyalty", headers=headers).json()
    assert statement["tier"]["name"] == "gold" and len(statement["price_locks"]) == 1


def test_order_events_earn_points_at_once_and_once(
        client: TestClient, keys: dict[Role, str],
        bearer: Headers,
        add_customers: Callable[..., list[int]], sqlite_engine: Engine) -> None:
    (customer,) = add_customers(1)  # shop:c0
    with session_scope(sqlite_engine) as session:
        enrol(session, customer)
    event = {"kind": "transactions", "record": {
        "source": "web", "order_id": "W-1", "customer_source": "shop",
        "customer_external_id": "c0", "ordered_at": datetime.now(UTC).isoformat(),
        "amount": 25.5}}
    for _ in range(2):
        response = client.post("/api/v1/events", json=event,
                               headers=bearer(keys[Role.MANAGER]))
        assert response.status_code == 200, response.text
    with session_scope(sqlite_engine) as session:
        entries = session.execute(select(LoyaltyEntry.kind, func.sum(LoyaltyEntry.points))
                                  .group_by(LoyaltyEntry.kind)).all()
    assert entries == [("earn", 35)]
