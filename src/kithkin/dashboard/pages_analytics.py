"""Overview and cohort pages (analytics roles only)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from kithkin.api.deps import SessionDep, SettingsDep
from kithkin.dashboard import charts, navigation
from kithkin.dashboard import overview as overview_service
from kithkin.dashboard.web import PageRoute, render, require_page
from kithkin.users.models import StaffUser

router = APIRouter(route_class=PageRoute, include_in_schema=False)

OverviewUser = Annotated[StaffUser, Depends(require_page(navigation.OVERVIEW.key))]


def _value_charts(summary: overview_service.ValueSummary) -> list[charts.Chart]:
    if summary.total_clv is None:  # no CLV known: no chart of zeros
        return []
    drawn = [
        charts.histogram_chart("clv-histogram", "CLV distribution",
                               edges=summary.histogram_edges,
                               counts=summary.histogram_counts,
                               x_title="CLV (the top 1% fall in the last bar)"),
    ]
    known = [(t.label, t.clv) for t in summary.tiers if t.clv is not None]
    if known:  # a tier none of whose customers has a CLV is left out, not drawn as 0
        drawn.append(charts.bar_chart("value-tiers", "CLV by value tier",
                                      categories=[label for label, _ in known],
                                      series={"CLV": [clv for _, clv in known]},
                                      y_title="total CLV", row_label="tier"))
    return drawn


@router.get("/")
def overview(request: Request, session: SessionDep, settings: SettingsDep,
             user: OverviewUser) -> Response:
    counts, monthly = overview_service.overview_figures(session=session, settings=settings)
    summary = overview_service.value_summary(session=session)
    trend: list[charts.Chart] = []
    if monthly.months:
        trend = [
            charts.bar_chart("revenue-by-month", "Revenue by month",
                             categories=monthly.months, series={"revenue": monthly.revenue},
                             y_title="revenue", row_label="month"),
            charts.line_chart("retention-trend", "Month-on-month customer retention",
                              x=monthly.months, series={"retained": monthly.retention},
                              y_title="share retained", y_format=".0%",
                              row_label="month"),
        ]
    stages = overview_service.stage_summary(session=session, settings=settings)
    stage_charts = [] if stages is None else [
        charts.bar_chart(f"stages-{m.model}", f"Customers by stage: {m.title}",
                         categories=m.stages, series={"customers": m.customers},
                         y_title="customers", row_label="stage")
        for m in stages[1]
    ]
    return render(request, "overview.html", user=user, active="overview", counts=counts,
                  trend=trend, summary=summary, stages=stages, stage_charts=stage_charts,
                  value_charts=_value_charts(summary) if summary else [])


def _scale_top(later_peak: float | None) -> float:
    """The colour scale ends at the best month after the first, rounded up to 10 points,
    so the months that differ get the colours (month 0, always 100%, is darkest)."""
    if not later_peak:
        return 1.0
    return min(1.0, math.ceil(later_peak * 10) / 10)


@router.get("/cohorts")
def cohorts(request: Request, settings: SettingsDep,
            user: Annotated[StaffUser, Depends(require_page(navigation.COHORTS.key))]
            ) -> Response:
    matrix = overview_service.cohort_matrix(settings=settings, as_of=datetime.now(UTC).date())
    chart = None
    if matrix is not None and matrix.cohorts:
        chart = charts.heatmap_chart(
            "cohort-heatmap", "Share of each acquisition cohort buying again, by month",
            x=matrix.periods, y=matrix.cohorts, z=matrix.retention,
            x_title="months since first purchase", y_title="first-purchase month",
            z_title="share buying again", z_max=_scale_top(matrix.later_peak),
        )
    return render(request, "cohorts.html", user=user, active="cohorts", matrix=matrix,
                  chart=chart)
