"""Overview and cohort pages, and the numbers behind them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from kithkin.customers.models import Customer
from kithkin.dashboard import overview
from kithkin.database.core import session_scope
from kithkin.metrics.models import CustomerMetric, MetricsRun
from kithkin.relationships.models import StageChange, StageCount
from kithkin.transactions.models import Transaction


def chart_ids(html: str) -> list[str]:
    return re.findall(r'<div class="chart" id="([^"]+)"', html)


def test_overview_with_metrics_draws_value_stage_and_trend_charts(
        login: Callable[[str], TestClient]) -> None:
    html = login("analyst").get("/").text
    assert chart_ids(html) == ["stages-journey", "clv-histogram", "value-tiers",
                               "revenue-by-month", "retention-trend"]
    assert "kithkin refresh" not in html
    assert "1 moved up" in html and "1 moved down" in html
    figure = json.loads(html.split('data-chart-for="stages-journey">')[1].split("</script>")[0])
    assert figure["data"][0]["x"] == ["acquaintance", "friend", "partner"]
    assert figure["data"][0]["y"] == [3, 6, 2]
    assert "Judged by" in html and "retain" in html  # each stage's goal from the model


def test_overview_without_a_refresh_says_how_to_get_one(
        login: Callable[[str], TestClient]) -> None:
    with session_scope() as session:
        session.execute(delete(CustomerMetric))
        session.execute(delete(MetricsRun))
        session.execute(delete(StageChange))
        session.execute(delete(StageCount))
    html = login("manager").get("/").text
    assert "No customer metrics yet" in html and "kithkin refresh" in html
    assert chart_ids(html) == ["revenue-by-month", "retention-trend"]


def test_value_summary_tiers_and_risk(seeded: dict[str, int]) -> None:
    with session_scope() as session:
        summary = overview.value_summary(session=session)
    assert summary is not None
    clv = np.array([80.0 + 35 * n for n in range(11)])
    p_alive = np.array([0.2 + 0.07 * n for n in range(11)])
    assert summary.customers == 11
    assert summary.total_clv == pytest.approx(clv.sum())
    assert sum(summary.histogram_counts) == 11
    assert [t.customers for t in summary.tiers] == [1, 1, 2, 7]  # 1%, 4%, 15% rounded up
    assert summary.tiers[0].min_clv == pytest.approx(clv.max())
    assert summary.at_risk_customers == int((p_alive < 0.5).sum())
    assert summary.top_at_risk[0].name == "Sam0 Smith"  # largest revenue x (1 - P(alive))


def test_monthly_retention_is_the_share_of_last_months_buyers_who_bought_again(
        seeded: dict[str, int]) -> None:
    with session_scope() as session:
        session.execute(delete(Transaction))
        session.execute(delete(CustomerMetric))
        ids = list(session.scalars(Customer.__table__.select().with_only_columns(
            Customer.id).limit(4)))
        when = [datetime(2025, m, 3, tzinfo=UTC) for m in (1, 2, 3)]
        orders = [(ids[0], 0), (ids[1], 0), (ids[2], 0), (ids[3], 0),  # Jan: 4 buyers
                  (ids[0], 1), (ids[1], 1), (ids[0], 2)]  # Feb: 2 of them; Mar: 1 of 2
        for n, (customer_id, month) in enumerate(orders):
            session.add(Transaction(source="t", order_id=str(n), customer_id=customer_id,
                                    ordered_at=when[month], amount=10.0))
    with session_scope() as session:
        series = overview.monthly_series(session=session)
    assert series.months == ["2025-01", "2025-02", "2025-03"]
    assert series.orders == [4, 2, 1]
    assert series.revenue == [40.0, 20.0, 10.0]
    assert series.retention == [None, 0.5, 0.5]


def test_cohorts_page_draws_the_heatmap_from_analytics(
        login: Callable[[str], TestClient]) -> None:
    html = login("analyst").get("/cohorts").text
    assert chart_ids(html) == ["cohort-heatmap"]
    figure = json.loads(html.split('data-chart-for="cohort-heatmap">')[1].split("</script>")[0])
    assert figure["data"][0]["y"] == ["2025-01", "2025-02", "2025-03"]
    assert figure["data"][0]["z"][0][0] == 1.0  # everyone buys in their first month


def test_empty_store_shows_notices_not_empty_charts(
        login: Callable[[str], TestClient]) -> None:
    with session_scope() as session:
        session.execute(delete(Transaction))
    client = login("admin")
    assert "No orders yet" in client.get("/cohorts").text
    html = client.get("/").text
    assert "revenue-by-month" not in html and "No orders yet" in html
