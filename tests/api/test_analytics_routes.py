"""/analytics over a real refresh: runs, metric pages, RFM segments, CLV spread, cohorts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from kithkin.analytics import refresh as refresh_service
from kithkin.config import get_settings
from kithkin.database.core import session_scope
from kithkin.transactions.models import Transaction
from kithkin.users.models import Role

AS_OF = date(2024, 12, 31)
START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def orders(sqlite_engine: Engine,
           add_customers: Callable[..., list[int]]) -> dict[int, list[datetime]]:
    """300 customers acquired over 2024 who buy at their own rate until they drop out
    (a Pareto/NBD-like process, so the CLV models have something to fit), then a refresh."""
    rng = np.random.default_rng(11)
    ids = add_customers(300)
    bought: dict[int, list[datetime]] = {}
    with session_scope(sqlite_engine) as session:
        for cid in ids:
            first = START + timedelta(days=int(rng.integers(0, 300)))
            alive = min(rng.exponential(120.0), (AS_OF - first.date()).days)
            gaps = np.cumsum(rng.exponential(1 / rng.gamma(1.5, 1 / 40), size=40))
            days = [0, *{int(g) for g in gaps if 1 <= g < alive}]
            bought[cid] = [first + timedelta(days=d) for d in sorted(days)]
            scale = 1 / rng.gamma(3.5, 1 / 15.0)  # Gamma-Gamma spend heterogeneity
            for n, at in enumerate(bought[cid]):
                session.add(Transaction(source="shop", order_id=f"{cid}-{n}", customer_id=cid,
                                        ordered_at=at, amount=float(rng.gamma(6.0, scale))))
    refresh_service.run(settings=get_settings(), as_of=AS_OF, store_engine=sqlite_engine)
    return bought


def _all_pages(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get("/api/v1/analytics/metrics", headers=headers,
                          params={**params, "limit": 70, **({"after": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def test_metrics_runs_rfm_and_clv(client: TestClient, keys: dict[Role, str],
                                  orders: dict[int, list[datetime]]) -> None:
    headers = {"X-API-Key": keys[Role.ANALYST]}
    runs = client.get("/api/v1/analytics/runs", headers=headers).json()
    assert [r["as_of"] for r in runs] == [str(AS_OF)]
    run = client.get(f"/api/v1/analytics/runs/{AS_OF}", headers=headers).json()
    assert run["customers"] == len(orders) and run["model_error"] is None
    assert run["model_params"]
    assert client.get("/api/v1/analytics/runs/2020-01-01", headers=headers).status_code == 404

    rows = _all_pages(client, headers)
    assert sorted(r["customer_id"] for r in rows) == sorted(orders)
    for row in rows:
        assert row["orders"] == len(orders[row["customer_id"]])
    by_clv = _all_pages(client, headers, sort="-clv")
    values = [r["clv"] for r in by_clv]
    assert values == sorted(values, reverse=True) and len(values) == sum(
        r["clv"] is not None for r in rows)
    at_risk = _all_pages(client, headers, max_p_alive=0.5)
    assert {r["customer_id"] for r in at_risk} == {
        r["customer_id"] for r in rows if r["p_alive"] is not None and r["p_alive"] <= 0.5}
    bad = client.get("/api/v1/analytics/metrics", headers=headers, params={"sort": "name"})
    assert bad.status_code == 422

    rfm = client.get("/api/v1/analytics/rfm", headers=headers).json()
    expected = Counter(r["rfm_segment"] or "no purchase" for r in rows)
    assert {s["segment"]: s["customers"] for s in rfm["segments"]} == dict(expected)

    clv = client.get("/api/v1/analytics/clv", headers=headers, params={"bins": 10}).json()
    assert clv["customers"] == len(values) and sum(clv["counts"]) == len(values)
    assert clv["total"] == pytest.approx(sum(values))
    assert clv["percentiles"]["p50"] == pytest.approx(float(np.percentile(values, 50)))


def test_cohorts_match_a_count_by_hand(client: TestClient, keys: dict[Role, str],
                                       orders: dict[int, list[datetime]]) -> None:
    def month(at: datetime) -> int:
        return at.year * 12 + at.month - 1

    sizes: Counter[int] = Counter()
    active: Counter[tuple[int, int]] = Counter()
    for dates in orders.values():
        cohort = month(min(dates))
        sizes[cohort] += 1
        for k in {month(d) - cohort for d in dates}:
            active[cohort, k] += 1
    rows = client.get("/api/v1/analytics/cohorts", params={"as_of": str(AS_OF)},
                      headers={"X-API-Key": keys[Role.MANAGER]}).json()
    assert rows
    for row in rows:
        cohort = month(datetime.fromisoformat(str(row["cohort"])))
        k = int(row["period_number"])
        assert row["customers"] == sizes[cohort]
        assert row["rate"] == pytest.approx(active[cohort, k] / sizes[cohort])
