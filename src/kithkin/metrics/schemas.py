"""Read models of the stored metrics (API and CLI)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CustomerMetricRead(BaseModel):
    """One customer's metrics at one as-of date (columns of docs/architecture.md)."""

    model_config = ConfigDict(from_attributes=True)

    as_of: date
    customer_id: int
    orders: int
    frequency: float | None
    recency: float | None
    T: float | None
    monetary_value: float | None
    revenue: float | None
    margin: float | None
    avg_order_value: float | None
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    days_since_last_purchase: float | None
    tenure_days: float | None
    categories_bought: int | None
    products_bought: int | None
    discount_share: float | None
    rfm_r: int | None
    rfm_f: int | None
    rfm_m: int | None
    rfm_score: str | None
    rfm_segment: str | None
    p_alive: float | None
    expected_purchases_90d: float | None
    expected_spend: float | None
    clv: float | None
    interactions_90d: int | None
    inbound_90d: int | None
    outbound_90d: int | None
    two_way_ratio: float | None
    complaints: int | None
    complaints_open: int | None
    complaints_resolved: int | None
    mean_resolution_hours: float | None
    last_nps: float | None
    last_csat: float | None
    satisfaction_trend: float | None
    referrals: int | None
    reviews: int | None
    ideas: int | None
    service_requests: int | None
    active_memberships: int | None
    has_loyalty: bool | None
    has_subscription: bool | None
    has_contract: bool | None
    membership_tier: str | None


class MetricsRunRead(BaseModel):
    """What one refresh stored: fitted model parameters, the model error if any, timings."""

    model_config = ConfigDict(from_attributes=True)

    as_of: date
    engine: str
    customers: int
    model_params: dict[str, Any] | None
    model_error: str | None
    timings: dict[str, Any] | None
    started_at: datetime
    finished_at: datetime | None


class ClvDistributionRead(BaseModel):
    """The spread of CLV over one refresh's customers, with that refresh's models."""

    as_of: date
    customers: int = Field(description="Customers with a CLV.")
    total: float
    percentiles: dict[str, float] = Field(description="p10, p25, p50, p75, p90, p99.")
    bin_edges: list[float]
    counts: list[int]
    model_params: dict[str, Any] | None
    model_error: str | None
