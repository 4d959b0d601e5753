"""Keyset pagination: every row exactly once, in order, even while rows are inserted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select

from kithkin.customers.models import Customer
from kithkin.database.base import Base
from kithkin.database.core import session_scope
from kithkin.users.models import Role

AddCustomers = Callable[..., list[int]]


def walk(client: TestClient, headers: dict[str, str], params: dict[str, Any],
         between_pages: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    page_no = 0
    while True:
        query = dict(params, **({"after": cursor} if cursor else {}))
        response = client.get("/api/v1/customers", params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= params["limit"]
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        page_no += 1
        if between_pages:
            between_pages(page_no)


@pytest.fixture
def headers(keys: dict[Role, str]) -> dict[str, str]:
    return {"X-API-Key": keys[Role.ANALYST]}


def test_pages_cover_every_row_once_under_concurrent_inserts(
        client: TestClient, headers: dict[str, str], add_customers: AddCustomers) -> None:
    original = add_customers(53)
    inserted: list[int] = []

    def insert_more(page_no: int) -> None:
        inserted.extend(add_customers(3, start=1000 + 3 * page_no))

    items = walk(client, headers, {"limit": 10}, insert_more)
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)), "a row appeared on two pages"
    assert ids == sorted(ids)
    assert set(original) <= set(ids), "a row that existed before the walk was skipped"
    # Rows inserted after the cursor position (higher ids) are picked up too.
    assert set(inserted) <= set(ids)


@pytest.mark.parametrize("sort", ["last_name", "-last_name", "created_at", "-created_at",
                                  "-id", "country"])
def test_sorted_walks_are_total_and_ordered(client: TestClient, headers: dict[str, str],
                                            add_customers: AddCustomers,
                                            sqlite_engine: Engine, sort: str) -> None:
    add_customers(17, country="FR")
    add_customers(9, start=100, country="DE")
    with session_scope(sqlite_engine) as session:  # nulls and ties in the sort column
        for customer in session.scalars(select(Customer).where(Customer.id % 4 == 0)):
            customer.last_name = None
        for customer in session.scalars(select(Customer).where(Customer.id % 5 == 0)):
            customer.last_name = "Same"
    items = walk(client, headers, {"limit": 4, "sort": sort})
    assert len(items) == 26 and len({i["id"] for i in items}) == 26
    field = sort.lstrip("-")
    if field == "last_name":  # unknown (null) names come after every name, either way
        nulls = [item["id"] for item in items if item[field] is None]
        assert nulls and [item[field] for item in items[-len(nulls):]] == [None] * len(nulls)
        assert nulls == sorted(nulls, reverse=sort.startswith("-"))
        items = items[:-len(nulls)]
    keys = [((item[field] or "") if field != "id" else item["id"], item["id"])
            for item in items]
    assert keys == sorted(keys, reverse=sort.startswith("-"))


def test_filters_and_bad_parameters(client: TestClient, headers: dict[str, str],
                                    add_customers: AddCustomers) -> None:
    add_customers(5, country="FR")
    add_customers(4, start=10, country="DE")
    de = client.get("/api/v1/customers", params={"country": "de"}, headers=headers).json()
    assert {item["country"] for item in de["items"]} == {"DE"} and len(de["items"]) == 4
    q = client.get("/api/v1/customers", params={"q": "NAME001"}, headers=headers).json()
    assert [item["last_name"] for item in q["items"]] == ["Name0010", "Name0011",
                                                           "Name0012", "Name0013"]
    by_email = client.get("/api/v1/customers", params={"q": "person3@"},
                          headers=headers).json()
    assert [item["email"] for item in by_email["items"]] == ["person3@example.com"]
    for params, field in (({"sort": "email"}, "sort"), ({"after": "not-a-cursor"}, "after"),
                          ({"limit": 0}, "query.limit"), ({"limit": 5000}, "query.limit")):
        response = client.get("/api/v1/customers", params=params, headers=headers)
        assert response.status_code == 422, params
        assert response.json()["errors"][0]["field"] == field


def test_stage_filter(client: TestClient, headers: dict[str, str],
                      add_customers: AddCustomers, sqlite_engine: Engine) -> None:
    ids = add_customers(6)
    stages = Base.metadata.tables["customer_stage"]
    with session_scope(sqlite_engine) as session:
        session.execute(insert(stages), [
            {"customer_id": cid, "model": model, "stage": stage, "rank": 1,
             "since": date(2024, 1, 1), "as_of": date(2024, 1, 1), "evidence": "{}"}
            for cid, model, stage in [(ids[0], "journey", "friend"), (ids[1], "journey", "friend"),
                                      (ids[2], "journey", "stranger"),
                                      (ids[3], "ladder", "friend")]
        ])
    friends = client.get("/api/v1/customers", params={"stage": "friend"}, headers=headers)
    assert [c["id"] for c in friends.json()["items"]] == [ids[0], ids[1], ids[3]]
    journey = client.get("/api/v1/customers", params={"stage": "friend",
                                                      "stage_model": "journey"}, headers=headers)
    assert [c["id"] for c in journey.json()["items"]] == [ids[0], ids[1]]
