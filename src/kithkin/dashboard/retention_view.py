"""The figures of the Retention page and of ``kithkin retention report``: one builder,
so the page and the self-contained HTML file show the same numbers.

Each figure is computed by :mod:`kithkin.retention`; here they become charts (with a
data table each) and small tables. A figure the data cannot show is left out with the
reason in ``notes``, not drawn from zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from kithkin.config import Settings
from kithkin.dashboard import charts
from kithkin.retention import complaints, survival
from kithkin.retention import service as retention_service
from kithkin.retention.taxonomy import REASON_LABELS

KM_DAYS = (90, 180, 365, 730)


@dataclass
class RetentionView:
    as_of: date
    metrics_as_of: date | None = None
    lapse_days: int = survival.DEFAULT_LAPSE_DAYS
    charts: list[charts.Chart] = field(default_factory=list)
    km_tables: list[tuple[str, list[list[str]]]] = field(default_factory=list)
    cox: survival.CoxResult | None = None
    retention_tables: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    periods: list[dict[str, Any]] = field(default_factory=list)
    times: complaints.ServiceTimes | None = None
    recovery_point: date | None = None
    recovery: list[complaints.RecoveryGroup] = field(default_factory=list)
    drivers: list[complaints.DefectionDriver] = field(default_factory=list)
    reasons: retention_service.ReasonSummary | None = None
    value_at_risk: float | None = None
    at_risk_customers: int | None = None
    notes: list[str] = field(default_factory=list)


def _km_chart(chart_id: str, title: str, curves: list[survival.Curve]) -> charts.Chart:
    shape = charts.layout(x_title="days since first purchase", y_title="share not lapsed")
    shape["yaxis"]["tickformat"] = ".0%"
    shape["yaxis"]["range"] = [0, 1.02]
    data: list[dict[str, Any]] = []
    for i, curve in enumerate(curves):
        colour = charts.PALETTE[i % len(charts.PALETTE)]
        x = [0.0, *curve.times]
        data.append({"type": "scatter", "mode": "lines", "line": {"width": 0,
                     "shape": "hv"}, "x": x, "y": [1.0, *curve.upper], "showlegend": False,
                     "hoverinfo": "skip", "legendgroup": curve.label})
        data.append({"type": "scatter", "mode": "lines", "line": {"width": 0, "shape": "hv"},
                     "x": x, "y": [1.0, *curve.lower], "fill": "tonexty",
                     "fillcolor": colour + "33", "showlegend": False, "hoverinfo": "skip",
                     "legendgroup": curve.label})
        data.append({"type": "scatter", "mode": "lines", "name": f"{curve.label} "
                     f"(n={curve.n})", "line": {"color": colour, "shape": "hv"}, "x": x,
                     "y": [1.0, *curve.survival], "legendgroup": curve.label})
    rows = [[c.label, str(c.n), str(c.events),
             *(charts.cell(c.at(d), ".0%") for d in KM_DAYS)] for c in curves]
    table = charts.DataTable(columns=["group", "customers", "lapsed",
                                      *(f"S({d} d)" for d in KM_DAYS)], rows=rows)
    description = f"{title}: Kaplan-Meier survival with 95% bands; " + "; ".join(
        f"{c.label} {charts.cell(c.at(365), '.0%')} after a year" for c in curves)
    return charts.make_chart(chart_id, title, description, {"data": data, "layout": shape},
                             table=table)


def _survival(view: RetentionView, session: Session, as_of: date) -> None:
    try:
        frame = survival.lifetimes(session, as_of=as_of, lapse_days=view.lapse_days)
    except survival.SurvivalError as error:
        view.notes.append(str(error))
        return
    view.metrics_as_of = frame.attrs["metrics_as_of"]
    if frame.empty:
        view.notes.append("no customer has a purchase yet: no survival curves")
        return
    for column, title in ((None, "Survival of all customers"),
                          ("cohort_year", "Survival by acquisition year"),
                          ("stage", "Survival by stage (journey)"),
                          ("bond_count", "Survival by number of bond kinds")):
        curves = survival.curves_by(frame, column)
        if curves:
            view.charts.append(_km_chart(f"km-{column or 'all'}", title, curves))
        else:
            view.notes.append(f"{title}: no group of 20 or more customers")
    for column, label in (("cohort_month", "acquisition month"), ("stage", "stage"),
                          ("level", "relationship level"), ("bond_count", "bond kinds")):
        rows = survival.retention_by(frame, column)
        if rows:
            view.retention_tables.append((label, rows))
    try:
        view.cox = survival.cox(frame)
    except (survival.SurvivalError, ValueError) as error:
        view.notes.append(f"Cox model not fitted: {error}")


def _cohorts(view: RetentionView, settings: Settings, as_of: date) -> None:
    """Every acquisition month (the cohort page's matrix, all months since the first)."""
    from kithkin.dashboard import overview

    matrix = overview.cohort_matrix(settings=settings, as_of=as_of)
    if matrix is None or not matrix.cohorts:
        view.notes.append("no purchases: no cohort retention")
        return
    view.charts.append(charts.heatmap_chart(
        "cohort-retention", "Share of each acquisition cohort buying again, by month",
        x=matrix.periods, y=matrix.cohorts, z=matrix.retention,
        x_title="months since first purchase", y_title="first-purchase month",
        z_title="share buying again"))


def _complaints(view: RetentionView, session: Session, as_of: date) -> None:
    for by in ("category", "product", "channel"):
        table = complaints.complaint_rates(session, as_of=as_of, by=by)
        if not table.groups:
            continue
        view.charts.append(charts.line_chart(
            f"complaints-{by}", f"Complaints per 1,000 orders by {by}", x=table.months,
            series={g: [table.rates[g][m] for m in table.months] for g in table.groups},
            x_title="month", y_title="complaints per 1,000 orders", row_label="month"))
        if by == "category" and table.unattributed:
            view.notes.append(f"{table.unattributed} complaints came before any order of "
                              "their customer and are in no rate")
    view.times = complaints.service_times(session, as_of=as_of)
    known_hours = [r for r in view.times.by_month
                   if r["median_hours_to_response"] is not None
                   or r["median_hours_to_resolution"] is not None]
    if not known_hours and view.times.complaints:
        view.notes.append("no complaint has a response or resolution time: no service-time "
                          "chart (respond and resolve complaints to measure them)")
    if known_hours:
        months = [r["month"] for r in view.times.by_month]
        view.charts.append(charts.line_chart(
            "complaint-hours", "Median hours to first response and to resolution",
            x=months, series={
                "to response": [r["median_hours_to_response"] for r in view.times.by_month],
                "to resolution": [r["median_hours_to_resolution"]
                                  for r in view.times.by_month]},
            x_title="month of complaint", y_title="hours", row_label="month"))
    view.recovery_point, view.recovery = complaints.service_recovery(session, as_of=as_of)
    view.drivers = complaints.defection_drivers(session, as_of=as_of,
                                                lapse_days=view.lapse_days)
    view.periods = complaints.period_retention(session, as_of=as_of)
    if view.periods:
        view.charts.append(charts.line_chart(
            "period-retention", "Retention and churn by quarter",
            x=[r["period"] for r in view.periods],
            series={"retention": [r["retention"] for r in view.periods],
                    "churn": [r["churn"] for r in view.periods]},
            x_title="quarter", y_title="share of last quarter's buyers", y_format=".0%",
            row_label="quarter"))


def _reasons(view: RetentionView, session: Session) -> None:
    view.reasons = retention_service.reason_summary(session)
    if view.reasons.by_category:
        keys = sorted(view.reasons.by_category)
        view.charts.append(charts.bar_chart(
            "defection-reasons", "Defection reasons (classified exit interviews)",
            categories=[REASON_LABELS.get(k, k) for k in keys],
            series={"interviews": [view.reasons.by_category[k] for k in keys]},
            y_title="interviews", row_label="reason"))
    if view.reasons.by_type:
        keys = sorted(view.reasons.by_type)
        view.charts.append(charts.bar_chart(
            "defector-types", "Defector types (classified exit interviews)",
            categories=keys, series={"interviews": [view.reasons.by_type[k] for k in keys]},
            y_title="interviews", row_label="type"))


def _value_at_risk(view: RetentionView, session: Session) -> None:
    from sqlalchemy import text

    from kithkin.customers.listing import AT_RISK_P_ALIVE

    row = session.execute(text(
        "SELECT count(*), sum(clv) FROM customer_metric WHERE as_of = "
        "(SELECT max(as_of) FROM customer_metric WHERE as_of <= :d) AND p_alive < :p"),
        {"p": AT_RISK_P_ALIVE, "d": view.as_of}).one()
    has_p_alive = session.execute(text(
        "SELECT count(*) FROM customer_metric WHERE p_alive IS NOT NULL")).scalar()
    if has_p_alive:
        view.at_risk_customers = int(row[0])
        view.value_at_risk = float(row[1]) if row[1] is not None else None


def build(*, session: Session, settings: Settings, as_of: date | None,
          lapse_days: int = survival.DEFAULT_LAPSE_DAYS) -> RetentionView:
    """All figures as of ``as_of`` (None: :func:`kithkin.retention.survival.default_as_of`)."""
    if as_of is None:
        as_of = survival.default_as_of(session, datetime.now(UTC).date())
    view = RetentionView(as_of=as_of, lapse_days=lapse_days)
    _survival(view, session, as_of)
    _cohorts(view, settings, as_of)
    _complaints(view, session, as_of)
    _reasons(view, session)
    _value_at_risk(view, session)
    return view
