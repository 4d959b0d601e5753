"""Products, prospects, memberships and interactions: list, get, log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from kithkin.database.core import session_scope
from kithkin.memberships.models import Membership
from kithkin.products.models import Product
from kithkin.prospects.models import Prospect
from kithkin.users.models import Role

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def agent(keys: dict[Role, str]) -> dict[str, str]:
    return {"X-API-Key": keys[Role.AGENT]}


def test_products_and_prospects(client: TestClient, agent: dict[str, str],
                                sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        session.add_all([Product(sku=f"SKU{n}", name=f"Tea {n}", category="tea" if n % 2
                                 else "coffee", list_price=5.0 + n) for n in range(5)])
        session.add_all([Prospect(source="fair", external_id=f"p{n}", first_name=f"Lead{n}",
                                  status="new" if n < 2 else "qualified") for n in range(4)])
    teas = client.get("/api/v1/products", params={"category": "tea"}, headers=agent).json()
    assert [p["sku"] for p in teas["items"]] == ["SKU1", "SKU3"]
    found = client.get("/api/v1/products", params={"q": "sku4"}, headers=agent).json()
    assert [p["name"] for p in found["items"]] == ["Tea 4"]
    product_id = found["items"][0]["id"]
    assert client.get(f"/api/v1/products/{product_id}", headers=agent).json()["list_price"] == 9
    qualified = client.get("/api/v1/prospects", params={"status": "qualified"},
                           headers=agent).json()
    assert [p["external_id"] for p in qualified["items"]] == ["p2", "p3"]
    lead = client.get(f"/api/v1/prospects/{qualified['items'][0]['id']}", headers=agent)
    assert lead.json()["first_name"] == "Lead2"
    assert client.get("/api/v1/prospects/999", headers=agent).status_code == 404


def test_memberships_and_logged_interactions(client: TestClient, agent: dict[str, str],
                                             sqlite_engine: Engine,
                                             add_customers: Callable[..., list[int]],
                                             assign_customers: Callable[..., None]) -> None:
    first, second = add_customers(2)
    assign_customers("agent@example.com", [first, second])
    with session_scope(sqlite_engine) as session:
        session.add(Membership(source="shop", external_id="m1", customer_id=second,
                               kind="subscription", programme="Box", started_at=T0))
    listed = client.get("/api/v1/memberships", params={"customer_id": second},
                        headers=agent).json()
    assert [m["programme"] for m in listed["items"]] == ["Box"]
    assert client.get(f"/api/v1/memberships/{listed['items'][0]['id']}",
                      headers=agent).json()["kind"] == "subscription"
    call = {"customer_id": first, "occurred_at": "2024-05-02T09:30:00+02:00", "kind": "call",
            "direction": "outbound", "channel": "phone", "subject": "Renewal",
            "external_id": "call-1"}
    logged = client.post("/api/v1/interactions", json=call, headers=agent)
    assert logged.status_code == 201, logged.text
    body = logged.json()
    assert body["occurred_at"] == "2024-05-02T07:30:00Z" and body["staff_user_id"] is not None
    assert client.post("/api/v1/interactions", json=call, headers=agent).status_code == 409
    bad_score = client.post("/api/v1/interactions", headers=agent, json={
        **call, "external_id": "s1", "kind": "survey_response", "score": 11,
        "score_scale": "nps"})
    assert bad_score.status_code == 422 and bad_score.json()["errors"][0]["field"] == "score"
    unknown = client.post("/api/v1/interactions", headers=agent,
                          json={**call, "external_id": "x", "customer_id": 999})
    assert unknown.status_code == 404
    mine = client.get("/api/v1/interactions", params={"customer_id": first},
                      headers=agent).json()
    assert [i["subject"] for i in mine["items"]] == ["Renewal"]
    assert client.get(f"/api/v1/interactions/{body['id']}", headers=agent).status_code == 200


def test_health_and_readiness_are_public(client: TestClient) -> None:
    health = client.get("/healthz")
    assert health.json() == {"status": "ok"}
    assert health.headers["server-timing"].startswith("app;dur=")
    assert client.get("/readyz").json() == {"status": "ready"}
