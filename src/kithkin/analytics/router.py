"""/analytics: refresh runs and fitted models, per-customer metrics, RFM, CLV, cohorts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from kithkin.analytics import reports
from kithkin.analytics import service as metrics_service
from kithkin.analytics.models import MetricsRun
from kithkin.analytics.schemas import ClvDistributionRead, CustomerMetricRead, MetricsRunRead
from kithkin.api.deps import CustomerScopeDep, SessionDep, SettingsDep
from kithkin.api.pagination import DEFAULT_LIMIT, Page
from kithkin.api.params import AfterQuery, DatePath, DateQuery, IdPath, LimitQuery
from kithkin.api.permissions import AnalyticsRead, CustomersRead

router = APIRouter(prefix="/analytics", tags=["analytics"])
AsOfQuery = Annotated[DateQuery, Query(description="A stored refresh; default the latest.")]


@router.get("/runs", response_model=list[MetricsRunRead])
def list_runs(session: SessionDep, _: AnalyticsRead) -> list[MetricsRunRead]:
    """Every stored refresh, newest first, with its fitted CLV model parameters."""
    runs = session.scalars(select(MetricsRun).order_by(MetricsRun.as_of.desc()))
    return [MetricsRunRead.model_validate(run) for run in runs]


@router.get("/runs/{as_of}", response_model=MetricsRunRead)
def get_run(as_of: DatePath, session: SessionDep, _: AnalyticsRead) -> MetricsRunRead:
    return MetricsRunRead.model_validate(metrics_service.get_run(session=session, as_of=as_of))


@router.get("/metrics", response_model=Page[CustomerMetricRead])
def list_metrics(
    session: SessionDep, _: AnalyticsRead, scope: CustomerScopeDep, as_of: AsOfQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT, after: AfterQuery = None,
    sort: Annotated[str, Query(description="customer_id, clv, p_alive or revenue; "
                                           "prefix - for descending.")] = "customer_id",
    rfm_segment: Annotated[str | None, Query(description="e.g. champions, at_risk")] = None,
    min_p_alive: Annotated[float | None, Query(ge=0, le=1)] = None,
    max_p_alive: Annotated[float | None, Query(ge=0, le=1)] = None,
) -> Page[CustomerMetricRead]:
    """Per-customer summaries, RFM and CLV of one refresh (an agent: their customers)."""
    rows, cursor = reports.metrics_page(
        session=session, as_of=as_of, limit=limit, after=after, sort=sort,
        rfm_segment=rfm_segment, min_p_alive=min_p_alive, max_p_alive=max_p_alive,
        scope=scope)
    return Page[CustomerMetricRead](items=[CustomerMetricRead.model_validate(r) for r in rows],
                                    next_cursor=cursor, limit=limit)


@router.get("/customers/{customer_id:int}/metrics", response_model=list[CustomerMetricRead])
def customer_metrics(customer_id: IdPath, session: SessionDep, _: CustomersRead,
                     scope: CustomerScopeDep) -> list[CustomerMetricRead]:
    """One customer's metrics at every stored refresh, oldest first."""
    scope.check(session=session, customer_id=customer_id)
    return [CustomerMetricRead.model_validate(row) for row in
            metrics_service.history(session=session, customer_id=customer_id)]


@router.get("/rfm")
def rfm_segments(session: SessionDep, _: AnalyticsRead,
                 as_of: AsOfQuery = None) -> dict[str, Any]:
    """Customers, revenue, CLV and mean P(alive) per named RFM segment."""
    return reports.rfm_segments(session=session, as_of=as_of)


@router.get("/clv", response_model=ClvDistributionRead)
def clv_distribution(session: SessionDep, _: AnalyticsRead, as_of: AsOfQuery = None,
                     bins: Annotated[int, Query(ge=1, le=200)] = 40) -> ClvDistributionRead:
    """CLV histogram and percentiles, with the fitted model parameters of that refresh."""
    return reports.clv_distribution(session=session, as_of=as_of, bins=bins)


@router.get("/cohorts")
def cohorts(settings: SettingsDep, _: AnalyticsRead,
            as_of: Annotated[DateQuery, Query(description="Default: today.")] = None,
            ) -> list[dict[str, Any]]:
    """Acquisition-month cohorts: customers, active and retention rate per later month."""
    return reports.cohorts(settings=settings, as_of=as_of or datetime.now(UTC).date())
