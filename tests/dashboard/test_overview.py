"""Overview and cohort pages, and the numbers behind them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, extract, func, select, update
from sqlalchemy.orm import Session

from kithkin.analytics.models import CustomerMetric, MetricsRun
from kithkin.config import get_settings
from kithkin.customers.models import Customer
from kithkin.dashboard import overview
from kithkin.database.core import session_scope
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
    assert "most valuable" in html and "Platinum" not in html  # one set of tier names


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
    # the relationship engine's tiers, the one set of names (only Ada has a profile)
    with session_scope() as session:
        ada_clv = session.scalar(select(CustomerMetric.clv).where(
            CustomerMetric.customer_id == seeded["lovelace"]))
    assert [(t.label, t.customers) for t in summary.tiers] == [("most valuable", 1)]
    assert summary.tiers[0].clv == pytest.approx(ada_clv)
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
        series = overview.monthly_series(session=session, settings=get_settings())
    assert series.months == ["2025-01", "2025-02", "2025-03"]
    assert series.orders == [4, 2, 1]
    assert series.revenue == [40.0, 20.0, 10.0]
    assert series.retention == [None, 0.5, 0.5]


def _former_monthly_series(session: Session, months: int) -> overview.MonthlySeries:
    """The series as the overview computed it in SQLAlchemy before the analytics engine
    did (kept here only, to prove the page's numbers unchanged)."""
    def month_of(column: Any) -> Any:
        return (extract("year", column) * 12 + extract("month", column) - 1).label("month")

    last = session.scalar(select(func.max(Transaction.ordered_at)))
    assert last is not None
    end = last.year * 12 + last.month - 1
    start = end - months + 1
    month = month_of(Transaction.ordered_at)
    since = Transaction.ordered_at >= datetime((start - 1) // 12, (start - 1) % 12 + 1, 1,
                                               tzinfo=UTC)
    rows: list[Any] = list(session.execute(
        select(month, func.sum(Transaction.amount), func.count()).where(since).group_by(month)
    ))
    totals = {int(m): (float(revenue or 0.0), int(count)) for m, revenue, count in rows}
    active = (select(Transaction.customer_id.label("customer_id"), month)
              .where(since).distinct().subquery())
    following = active.alias("following")
    rows = list(session.execute(
        select(active.c.month, func.count(), func.count(following.c.customer_id))
        .outerjoin(following, (following.c.customer_id == active.c.customer_id)
                   & (following.c.month == active.c.month + 1))
        .group_by(active.c.month)
    ))
    retained = {int(m) + 1: (int(n), int(kept)) for m, n, kept in rows}
    indexes = list(range(max(start, min(totals, default=end)), end + 1))
    return overview.MonthlySeries(
        months=[f"{i // 12:04d}-{i % 12 + 1:02d}" for i in indexes],
        revenue=[totals.get(i, (0.0, 0))[0] for i in indexes],
        orders=[totals.get(i, (0.0, 0))[1] for i in indexes],
        retention=[(retained[i][1] / retained[i][0]) if retained.get(i, (0, 0))[0] else None
                   for i in indexes])


@pytest.mark.parametrize("months", [24, 3])
def test_monthly_series_from_the_engine_equals_the_former_sql(
        seeded: dict[str, int], months: int) -> None:
    with session_scope() as session:
        ids = list(session.scalars(Customer.__table__.select().with_only_columns(
            Customer.id).limit(3)))
        # a refund, a month nobody buys in, and a late order after the gap
        extra = [(ids[0], datetime(2025, 6, 2, tzinfo=UTC), -15.0),
                 (ids[1], datetime(2025, 9, 30, 23, 30, tzinfo=UTC), 70.0),
                 (ids[2], datetime(2025, 10, 1, tzinfo=UTC), 20.0)]
        for n, (customer_id, when, amount) in enumerate(extra):
            session.add(Transaction(source="t", order_id=f"x{n}", customer_id=customer_id,
                                    ordered_at=when, amount=amount))
    with session_scope() as session:
        expected = _former_monthly_series(session, months)
        series = overview.monthly_series(session=session, settings=get_settings(), months=months)
    assert series == expected
    if months == 3:  # the window starts in a month nobody bought in: from September
        assert series.months == ["2025-09", "2025-10"]
        return
    assert any(r not in (None, 0.0) for r in series.retention)
    assert series.orders[-3:] == [0, 1, 1]  # the gap


def test_headline_orders_and_revenue_come_from_the_engine_and_equal_the_store_sums(
        seeded: dict[str, int], login: Callable[[str], TestClient]) -> None:
    with session_scope() as session:
        customer_id = session.scalars(select(Customer.id).limit(1)).one()
        session.add(Transaction(source="t", order_id="refund", customer_id=customer_id,
                                ordered_at=datetime(2025, 6, 2, tzinfo=UTC), amount=-15.5))
    with session_scope() as session:
        orders, revenue = session.execute(
            select(func.count(), func.sum(Transaction.amount))).one()
        counts, series = overview.overview_figures(session=session, settings=get_settings())
    assert (counts.transactions, counts.revenue) == (orders, pytest.approx(revenue))
    assert orders > 1 and series.months  # the same connection gave the series
    assert login("analyst").get("/").status_code == 200


def test_cohorts_page_draws_the_heatmap_from_analytics(
        login: Callable[[str], TestClient]) -> None:
    html = login("analyst").get("/cohorts").text
    assert chart_ids(html) == ["cohort-heatmap"]
    figure = json.loads(html.split('data-chart-for="cohort-heatmap">')[1].split("</script>")[0])
    assert figure["data"][0]["y"] == ["2025-01", "2025-02", "2025-03"]
    assert figure["data"][0]["z"][0][0] == 1.0  # everyone buys in their first month


def test_cohort_matrix_covers_every_month_the_api_returns(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """17 cohorts and 17 months since the first: all of them (the page showed 11)."""
    months = [date(2024 + (m // 12), m % 12 + 1, 1) for m in range(17)]
    rows = [{"cohort": start, "period_number": k, "customers": 10 + c,
             "rate": 1.0 if k == 0 else 0.5 / k}
            for c, start in enumerate(months) for k in range(17 - c)]
    monkeypatch.setattr(overview.metrics_reports, "cohorts", lambda *, settings, as_of: rows)
    matrix = overview.cohort_matrix(settings=get_settings(), as_of=date(2025, 6, 1))
    assert matrix is not None
    assert matrix.cohorts[0] == "2024-01" and len(matrix.cohorts) == 17
    assert matrix.periods == list(range(17))
    assert matrix.retention[0][16] == 0.5 / 16 and matrix.retention[16][1] is None
    assert matrix.sizes[-1] == 26
    assert matrix.later_peak == 0.5


def test_empty_store_shows_notices_not_empty_charts(
        login: Callable[[str], TestClient]) -> None:
    with session_scope() as session:
        session.execute(delete(Transaction))
    client = login("admin")
    assert "No orders yet" in client.get("/cohorts").text
    html = client.get("/").text
    assert "revenue-by-month" not in html and "No orders yet" in html


def test_analytics_page_shows_parameters_fit_and_the_assumed_margin(
        login: Callable[[str], TestClient]) -> None:
    with session_scope() as session:
        run = session.scalars(select(MetricsRun)).one()
        run.model_params = {
            "margin": 0.25, "margin_source": "assumed",
            "bg_nbd": {"params": {"r": 0.7, "alpha": 77.4, "a": 0.64, "b": 19.8},
                       "standard_errors": {"r": 0.07, "alpha": None, "a": 0.9, "b": 35.0},
                       "log_likelihood": -4917.2, "n_customers": 395},
            "holdout": {"days": 90, "calibration_end": "2025-04-01", "customers": 346,
                        "actual_mean": 0.728, "predicted_mean": 0.611,
                        "mean_absolute_error": 0.709,
                        "by_frequency": [{"frequency": "0", "customers": 155,
                                          "actual_mean": 0.452, "predicted_mean": 0.29}]},
        }
    client = login("analyst")
    html = client.get("/analytics").text
    for expected in ("BG/NBD (purchases)", "alpha", "77.4", "-4917.2",
                     "unknown (assumed 25%)", "Holdout check", "0.611", "0.728",
                     'id="holdout-fit"'):
        assert expected in html, expected
    assert client.get("/analytics?as_of=2020-01-01").status_code == 404


def test_unknown_clv_and_p_alive_are_unknown_not_zero(seeded: dict[str, int]) -> None:
    """A refresh whose models could not be fitted stores no CLV or P(alive): the
    overview says unknown instead of "Total CLV 0.00" and "0 customers at risk"."""
    with session_scope() as session:
        session.execute(update(CustomerMetric).values(clv=None, p_alive=None))
    with session_scope() as session:
        summary = overview.value_summary(session=session)
    assert summary is not None
    assert (summary.total_clv, summary.at_risk_customers, summary.at_risk_clv) == (
        None, None, None)
    assert summary.histogram_counts == []
    assert all(t.clv is None for t in summary.tiers)
