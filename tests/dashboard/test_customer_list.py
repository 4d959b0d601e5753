"""The customers page and GET /customers: one search, filters, sorts and the columns."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from kithkin.config import get_settings
from kithkin.customers import listing
from kithkin.customers.listing import CustomerFilters
from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.database.core import session_scope
from kithkin.relationships.models import CustomerStage

AS_OF = date(2025, 6, 30)
LINK = re.compile(r'href="/customers/(\d+)"')


@pytest.fixture
def staged(seeded: dict[str, int]) -> dict[str, Any]:
    """Seeded store plus journey stages for every Smith (friend / acquaintance alternating)
    and one customer who has no metrics and no name."""
    with session_scope() as session:
        smiths = list(session.scalars(select(Customer).where(Customer.last_name == "Smith")
                                      .order_by(Customer.id)))
        friends = []
        for n, customer in enumerate(smiths):
            stage = "friend" if n % 2 == 0 else "acquaintance"
            friends += [customer.id] if stage == "friend" else []
            session.add(CustomerStage(customer_id=customer.id, model="journey", stage=stage,
                                      rank=1, since=AS_OF, as_of=AS_OF, evidence="{}"))
        nameless = Customer(identifiers=[CustomerIdentifier(source="shop",
                                                            external_id="C-NONAME")])
        session.add(nameless)
        session.flush()
        return {**seeded, "friends": friends, "nameless": nameless.id}


def walk(sort: str, filters: CustomerFilters = CustomerFilters(),
         limit: int = 3) -> list[listing.CustomerRow]:
    rows: list[listing.CustomerRow] = []
    after = None
    while True:
        with session_scope() as session:
            page = listing.list_customers(
                session=session, filters=filters, sort=sort, limit=limit, after=after,
                stage_model=listing.default_stage_model(home=get_settings().home))
            rows += page.rows
        if page.next_cursor is None:
            return rows
        after = page.next_cursor


@pytest.mark.parametrize("sort", ["-clv", "clv", "p_alive", "-p_alive", "last_name",
                                  "-last_name"])
def test_sorted_pages_visit_everyone_once_unknown_last(staged: dict[str, Any],
                                                              sort: str) -> None:
    rows = walk(sort)
    ids = [r.customer.id for r in rows]
    assert len(ids) == len(set(ids)) == 12  # 11 seeded + the nameless one
    field = sort.lstrip("-")
    attribute = {"last_name": lambda r: r.customer.last_name}.get(
        field, lambda r: getattr(r, field))
    values = [attribute(r) for r in rows]
    known = [v for v in values if v is not None]
    # unknown comes after every value, in either direction
    assert values == [*known, *[None] * (len(values) - len(known))]
    assert len(known) >= 11 - (field == "last_name")
    assert known == sorted(known, reverse=sort.startswith("-"))


def test_filter_by_stage_sorted_by_clv(staged: dict[str, Any]) -> None:
    rows = walk("-clv", CustomerFilters(stage="friend", stage_model="journey"), limit=2)
    assert sorted(r.customer.id for r in rows) == sorted(staged["friends"])
    assert [r.clv for r in rows] == sorted((r.clv for r in rows), reverse=True)
    assert {r.stage for r in rows} == {"friend"}


def test_at_risk_tier_and_manager_filters(staged: dict[str, Any]) -> None:
    at_risk = walk("id", CustomerFilters(at_risk=True))
    safe = walk("id", CustomerFilters(at_risk=False))
    assert at_risk and all(r.p_alive is not None and r.p_alive < 0.5 for r in at_risk)
    assert safe and all(r.p_alive is not None and r.p_alive >= 0.5 for r in safe)
    assert len(at_risk) + len(safe) == 11  # the customer without metrics is neither
    by_clv = walk("-clv", CustomerFilters(at_risk=True), limit=2)
    assert [r.customer.id for r in by_clv] == [r.customer.id for r in sorted(
        at_risk, key=lambda r: (r.clv, r.customer.id), reverse=True)]
    tier = walk("id", CustomerFilters(tier="most_valuable"))
    assert [r.customer.id for r in tier] == [staged["lovelace"]]
    assert tier[0].value_tier == "most_valuable" and tier[0].stage == "partner"
    with session_scope() as session:
        agent = session.scalar(select(Customer.account_manager_id).where(
            Customer.id == staged["lovelace"]))
    book = walk("id", CustomerFilters(account_manager_id=agent))
    assert {r.customer.last_name for r in book} == {"Lovelace", "Turing"}
    assert {r.account_manager for r in book} == {"Agent User"}


def test_a_nameless_customer_is_labelled_by_external_id(staged: dict[str, Any]) -> None:
    rows = walk("id")
    nameless = next(r for r in rows if r.customer.id == staged["nameless"])
    assert nameless.label == "shop:C-NONAME"
    assert nameless.clv is None and nameless.at_risk is None  # unknown, not 0


def test_clv_sort_with_a_stage_filter_walks_the_index_without_sorting(
        staged: dict[str, Any]) -> None:
    with session_scope() as session:
        captured: list[Any] = []
        execute = session.execute

        def capture(statement: Any, *args: Any, **kwargs: Any) -> Any:
            captured.append(statement)
            return execute(statement, *args, **kwargs)

        session.execute = capture  # type: ignore[method-assign]
        listing.list_customers(session=session, sort="-clv", limit=2, filters=CustomerFilters(
            stage="friend", stage_model="journey"))
        session.execute = execute  # type: ignore[method-assign]
        page_query = next(s for s in captured if "_keyset_value" in str(s))
        compiled = page_query.compile(dialect=sqlite.dialect(),
                                      compile_kwargs={"literal_binds": True})
        plan = " | ".join(str(row[-1]) for row in session.connection().exec_driver_sql(
            f"EXPLAIN QUERY PLAN {compiled}"))
    assert "ix_customer_metric_as_of_clv" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


QUERIES = ["Smith", "smi", "Sam1 Smith", "LOVE", "ada@", "sam3@example.com", "C-1003", "zz"]


@pytest.mark.parametrize("query", QUERIES)
def test_rest_q_and_the_dashboard_search_return_the_same_customers(
        staged: dict[str, Any], login: Callable[[str], TestClient], query: str) -> None:
    client = login("admin")
    page = client.get("/customers", params={"q": query})
    assert page.status_code == 200
    on_page = [int(i) for i in LINK.findall(page.text)]
    api = client.get("/api/v1/customers", params={"q": query, "limit": 50})
    assert api.status_code == 200, api.text
    assert [item["id"] for item in api.json()["items"]] == on_page
    assert on_page or query == "zz"


def test_customers_page_filters_by_stage_and_sorts_by_clv(
        staged: dict[str, Any], login: Callable[[str], TestClient]) -> None:
    client = login("admin")
    page = client.get("/customers", params={"stage": "friend", "sort": "-clv"})
    assert page.status_code == 200
    shown = [int(i) for i in LINK.findall(page.text)]
    assert sorted(shown) == sorted(staged["friends"])
    with session_scope() as session:
        expected = [r.customer.id for r in listing.list_customers(
            session=session, sort="-clv", filters=CustomerFilters(
                stage="friend", stage_model="journey")).rows]
    assert shown == expected
    for header in ("Stage (journey)", "CLV", "P(alive)", "Value tier", "Account manager",
                   "Last order"):
        assert header in page.text
    api = client.get("/api/v1/customers", params={"stage": "friend", "stage_model": "journey",
                                                  "sort": "-clv"}).json()
    assert [i["id"] for i in api["items"]] == expected
    assert all(i["stage"] == "friend" and i["clv"] is not None for i in api["items"])


def test_a_search_with_a_sort_is_refused_by_the_api(staged: dict[str, Any],
                                                   login: Callable[[str], TestClient]) -> None:
    client = login("admin")
    response = client.get("/api/v1/customers", params={"q": "smith", "sort": "-clv"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "sort"


def test_the_360_of_a_nameless_customer_is_titled_by_its_external_id(
        staged: dict[str, Any], login: Callable[[str], TestClient]) -> None:
    page = login("admin").get(f"/customers/{staged['nameless']}")
    assert page.status_code == 200
    assert "<h1>shop:C-NONAME" in page.text
    assert f"customer {staged['nameless']}" not in page.text


def test_metric_and_name_sorts_page_alike_on_both_stores(store_engine: Any) -> None:
    """NULLs sort differently in SQLite and PostgreSQL; the listing's order must not."""
    from kithkin.analytics.models import CustomerMetric, MetricsRun

    with session_scope(store_engine) as session:
        for n in range(9):
            customer = Customer(last_name=None if n % 4 == 0 else f"N{n % 3}")
            session.add(customer)
            session.flush()
            if n % 3:
                session.add(CustomerMetric(as_of=AS_OF, customer_id=customer.id,
                                           clv=float(n % 5), p_alive=None))
        session.add(MetricsRun(as_of=AS_OF, engine="duckdb", customers=6))
    for sort in ("-clv", "clv", "p_alive", "last_name", "-last_name"):
        rows = walk(sort, limit=2)
        assert len({r.customer.id for r in rows}) == 9, sort
        field = sort.lstrip("-")
        values = [r.customer.last_name if field == "last_name" else getattr(r, field)
                  for r in rows]
        known = [v for v in values if v is not None]
        assert values == [*known, *[None] * (9 - len(known))], sort
        assert known == sorted(known, reverse=sort.startswith("-")), sort
