"""Customer search, keyset pages, and the 360 page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from kithkin.analytics.models import CustomerMetric, MetricsRun
from kithkin.customers import search as customer_search
from kithkin.dashboard import sections
from kithkin.dashboard import service as dashboard_service
from kithkin.database.core import session_scope
from kithkin.errors import ValidationError
from tests.dashboard.seeding import SMITHS


def names(page: customer_search.CustomerPage) -> list[str]:
    return [c.display_name for c in [*page.exact, *page.customers]]


@pytest.mark.parametrize("query", ["Lovelace", "love", "LOVE", "Ada Lov", "ada@example",
                                   "C-1000", "ADA@EXAMPLE.COM"])
def test_search_finds_by_name_prefix_email_prefix_or_exact_id(
        seeded: dict[str, int], query: str) -> None:
    with session_scope() as session:
        found = names(customer_search.search_customers(session=session, query=query))
    assert found == ["Ada Lovelace"]


@pytest.mark.parametrize("query", ["Grace Lov", "x", "nobody", "C-100", "zz@example"])
def test_search_without_a_match_returns_nothing(seeded: dict[str, int], query: str) -> None:
    with session_scope() as session:
        assert names(customer_search.search_customers(session=session, query=query)) == []


@pytest.mark.parametrize("query", ["", "smith", "sam"])
def test_keyset_pages_visit_every_match_once_in_order(seeded: dict[str, int],
                                                      query: str) -> None:
    seen: list[int] = []
    cursor = None
    pages = 0
    with session_scope() as session:
        while True:
            page = customer_search.search_customers(session=session, query=query,
                                                      cursor=cursor, limit=3)
            seen += [c.id for c in page.customers]
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    expected = {"": 4 + SMITHS, "smith": SMITHS, "sam": 0}[query]
    assert len(seen) == len(set(seen)) == expected
    assert pages == max(1, -(-expected // 3))
    if query == "smith":
        assert seen == sorted(seen)  # same last name: ordered by id


def test_a_forged_cursor_is_a_validation_error(seeded: dict[str, int]) -> None:
    with session_scope() as session, pytest.raises(ValidationError):
        customer_search.search_customers(session=session, query="smith", cursor="!!!")


def test_customer_list_page_links_the_next_page(login: Callable[[str], TestClient],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(customer_search, "PAGE_SIZE", 5)
    client = login("analyst")
    first = client.get("/customers", params={"q": "smith"})
    assert first.status_code == 200
    assert first.text.count('href="/customers/') == 5
    next_link = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = client.get(next_link.replace("&amp;", "&"))
    assert second.text.count('href="/customers/') == SMITHS - 5
    assert 'rel="next"' not in second.text
    assert "First page" in second.text


def test_search_queries_use_indexes_not_table_scans(seeded: dict[str, int]) -> None:
    """Guards the 1M-customer promise: SQLite's plan names an index for each mode."""
    with session_scope() as session:
        for query in ("smith", "ada@example", "Ada Lov"):
            plan = _plan(session, query)
            assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, (query, plan)
            assert "SCAN customer" not in plan, (query, plan)


def _plan(session: Session, query: str) -> str:
    from sqlalchemy.dialects import sqlite

    captured: list[Any] = []
    scalars, execute = session.scalars, session.execute

    def capture(original: Any) -> Any:
        def run(statement: Any, *args: Any, **kwargs: Any) -> Any:
            if getattr(statement, "is_select", False):
                captured.append(statement)
            return original(statement, *args, **kwargs)
        return run

    session.scalars = capture(scalars)  # type: ignore[method-assign]
    session.execute = capture(execute)  # type: ignore[method-assign]
    try:
        customer_search.search_customers(session=session, query=query)
    finally:
        session.scalars, session.execute = scalars, execute  # type: ignore[method-assign]
    statement = captured[-1]
    compiled = statement.compile(dialect=sqlite.dialect(),
                                 compile_kwargs={"literal_binds": True})
    rows = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
    return " | ".join(str(row[-1]) for row in rows)


def test_customer_360_shows_profile_consent_metrics_stages_and_timeline(
        login: Callable[[str], TestClient], seeded: dict[str, int]) -> None:
    html = login("agent").get(f"/customers/{seeded['lovelace']}").text
    for expected in ("Ada Lovelace", "C-1000", "granted", "opted out", "never asked",
                     "545", "champions", "Relationship stages", "partner",
                     "Relationship health", "two way ratio 0.5", "has loyalty yes",
                     "Bonds", "Late delivery", "Order O-0-0",
                     'id="order-history"', "/static/vendor/plotly.min.js"):
        assert expected in html, expected


def test_customer_360_shows_an_unknown_characteristic_as_unknown(
        login: Callable[[str], TestClient], seeded: dict[str, int]) -> None:
    """Trust is unknown in the seeded scorecard: "unknown", no meter at 0, and the overall
    score says how many characteristics it averages."""
    html = login("agent").get(f"/customers/{seeded['lovelace']}").text
    trust = html.split('<th scope="row">Trust</th>')[1].split("</tr>")[0]
    assert "unknown" in trust and 'role="meter"' not in trust
    assert "overall 56 / 100 (6 of 7 characteristics known)" in html


def test_customer_360_leaves_out_sections_without_data(
        login: Callable[[str], TestClient], seeded: dict[str, int]) -> None:
    html = login("agent").get(f"/customers/{seeded['turing']}").text
    assert "Alan Turing" in html
    for absent in ("Relationship stages", "Relationship health", "Bonds", "Memberships"):
        assert absent not in html, absent


def test_unknown_customer_is_a_friendly_404(login: Callable[[str], TestClient]) -> None:
    response = login("agent").get("/customers/999999")
    assert response.status_code == 404
    assert "Not found" in response.text and "text/html" in response.headers["content-type"]


def test_timeline_pages_newest_first_without_gaps(seeded: dict[str, int]) -> None:
    customer_id = seeded["johnson"]  # 4 orders and 1 interaction
    with session_scope() as session:
        whole = dashboard_service.timeline(session=session, customer_id=customer_id,
                                           limit=100).entries
        paged, cursor = [], None
        while True:
            page = dashboard_service.timeline(session=session, customer_id=customer_id,
                                              cursor=cursor, limit=2)
            paged += page.entries
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert len(whole) == 5
    assert [(e.kind, e.id) for e in paged] == [(e.kind, e.id) for e in whole]
    assert [e.at for e in whole] == sorted((e.at for e in whole), reverse=True)


def test_registered_sections_render_only_when_their_loader_has_data(
        login: Callable[[str], TestClient], seeded: dict[str, int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sections, "_SECTIONS", {})
    sections.register_customer_section(sections.CustomerSection(
        key="next-offer", title="Next best offer", template="error.html",
        loader=lambda _session, cid, _settings: (
            {"cid": cid} if cid == seeded["lovelace"] else None)))
    client = login("agent")
    assert "Next best offer" in client.get(f"/customers/{seeded['lovelace']}").text
    assert "Next best offer" not in client.get(f"/customers/{seeded['turing']}").text


def test_keyset_pages_handle_missing_first_names_on_both_stores(store_engine: Any) -> None:
    """NULL sorts first on SQLite and last on PostgreSQL; the cursor follows each."""
    from kithkin.customers.models import Customer

    firsts = [None, "Bo", None, "Al", "Bo", None]
    with session_scope(store_engine) as session:
        session.add_all([Customer(first_name=f, last_name="Nulland") for f in firsts])
        session.add(Customer(first_name="Zed", last_name="Nullary"))
    seen: list[tuple[str | None, int]] = []
    cursor = None
    with session_scope(store_engine) as session:
        while True:
            page = customer_search.search_customers(session=session, query="nulla",
                                                      cursor=cursor, limit=1)
            seen += [(c.first_name, c.id) for c in page.customers]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    blanks, named = [(None, 1), (None, 3), (None, 6)], [("Al", 4), ("Bo", 2), ("Bo", 5)]
    in_order = blanks + named if store_engine.dialect.name == "sqlite" else named + blanks
    assert seen == [*in_order, ("Zed", 7)]  # every row once, in index order


def test_unknown_clv_says_why(login: Callable[[str], TestClient],
                              seeded: dict[str, int]) -> None:
    """Unknown is not zero, and not a riddle either: when the CLV models did not fit or the
    at-risk score could not be trained, the customer page and the at-risk list say why."""
    customer = seeded["lovelace"]
    client = login("admin")
    assert "CLV unknown" not in client.get(f"/customers/{customer}").text  # CLV known
    with session_scope() as session:
        session.execute(update(CustomerMetric).values(clv=None, value_at_risk=None))
        session.execute(update(MetricsRun).values(
            model_error="Gamma-Gamma did not converge (flat likelihood)",
            model_params={"at_risk": {"error": "only 20 customers bought before the "
                                               "training date; at least 50 are needed"}}))
    page = client.get(f"/customers/{customer}").text
    assert "CLV unknown: the CLV models did not fit on this data" in page
    assert "Gamma-Gamma did not converge (flat likelihood)" in page
    listed = client.get("/at-risk").text
    assert "CLV and value at risk unknown" in listed
    assert "Gamma-Gamma did not converge" in listed
    assert "No at-risk score as of 2025-06-30: only 20 customers bought" in listed
