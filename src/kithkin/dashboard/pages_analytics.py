"""Overview and cohort pages (analytics roles only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from kithkin.api.deps import SessionDep
from kithkin.dashboard import charts, navigation
from kithkin.dashboard import overview as overview_service
from kithkin.dashboard.web import PageRoute, render, require_page
from kithkin.users.models import StaffUser

router = APIRouter(route_class=PageRoute, include_in_schema=False)

OverviewUser = Annotated[StaffUser, Depends(require_page(navigation.OVERVIEW.key))]


def _value_charts(summary: overview_service.ValueSummary) -> list[charts.Chart]:
    drawn = [
        charts.histogram_chart("clv-histogram", "CLV distribution",
                               edges=summary.histogram_edges,
                               counts=summary.histogram_counts,
                               x_title="CLV (the top 1% fall in the last bar)"),
    ]
    if summary.tiers:
        drawn.append(charts.bar_chart("value-tiers", "CLV by value tier",
                                      categories=[t.label for t in summary.tiers],
                                      series={"CLV": [t.clv for t in summary.tiers]},
                                      y_title="total CLV"))
    return drawn


@router.get("/")
def overview(request: Request, session: SessionDep, user: OverviewUser) -> Response:
    counts = overview_service.store_counts(session=session)
    monthly = overview_service.monthly_series(session=session)
    summary = overview_service.value_summary(session=session)
    trend: list[charts.Chart] = []
    if monthly.months:
        trend = [
            charts.bar_chart("revenue-by-month", "Revenue by month",
                             categories=monthly.months, series={"revenue": monthly.revenue},
                             y_title="revenue"),
            charts.line_chart("retention-trend", "Month-on-month customer retention",
                              x=monthly.months, series={"retained": monthly.retention},
                              y_title="share retained", y_format=".0%"),
        ]
    stages = overview_service.stage_summary(session=session)
    stage_charts = [] if stages is None else [
        charts.bar_chart(f"stages-{m.model}", f"Customers by stage: {m.title}",
                         categories=m.stages, series={"customers": m.customers},
                         y_title="customers")
        for m in stages[1]
    ]
    return render(request, "overview.html", user=user, active="overview", counts=counts,
                  trend=trend, summary=summary, stages=stages, stage_charts=stage_charts,
                  value_charts=_value_charts(summary) if summary else [])


@router.get("/cohorts")
def cohorts(request: Request,
            user: Annotated[StaffUser, Depends(require_page(navigation.COHORTS.key))]
            ) -> Response:
    matrix = overview_service.cohort_matrix(as_of=datetime.now(UTC).date())
    chart = None
    if matrix is not None and matrix.cohorts:
        chart = charts.heatmap_chart(
            "cohort-heatmap", "Share of each acquisition cohort buying again, by month",
            x=matrix.periods, y=matrix.cohorts, z=matrix.retention,
            x_title="months since first purchase", y_title="first-purchase month",
        )
    return render(request, "cohorts.html", user=user, active="cohorts", matrix=matrix,
                  chart=chart)
