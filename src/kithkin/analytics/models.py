"""Per-customer metrics history and the refresh runs that wrote it.

The columns are the contract of docs/architecture.md ("Per-customer metrics"): analytics
writes them, the relationship engine reads the latest as-of for every customer. Rows are
unique by (customer_id, as_of): one as-of is replaced as a block, and one customer's
history reads without a scan.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, utcnow


class CustomerMetric(Base):
    __tablename__ = "customer_metric"
    __table_args__ = (
        # One key serves both the block's uniqueness and one customer's history (a
        # customer's rows side by side): a refresh builds one index less over its block
        # (benchmarks/results/landing_steps.md). Reads of a whole as-of go through the
        # as-of indexes below.
        UniqueConstraint("customer_id", "as_of"),
        # The customer list sorts one as-of by these (kithkin.customers.listing): each
        # index walks a page in order instead of sorting a million rows.
        Index("ix_customer_metric_as_of_clv", "as_of", "clv", "customer_id"),
        Index("ix_customer_metric_as_of_p_alive", "as_of", "p_alive", "customer_id"),
        Index("ix_customer_metric_as_of_last_purchase", "as_of", "last_purchase_at",
              "customer_id"),
        # the at-risk list: one as-of, ranked by value at risk
        Index("ix_customer_metric_as_of_value_at_risk", "as_of", "value_at_risk",
              "customer_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    as_of: Mapped[date]
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE")
    )
    # value
    orders: Mapped[int] = mapped_column(Integer, default=0)
    frequency: Mapped[float | None] = mapped_column(Float)
    recency: Mapped[float | None] = mapped_column(Float)
    T: Mapped[float | None] = mapped_column(Float)
    monetary_value: Mapped[float | None] = mapped_column(Float)
    revenue: Mapped[float | None] = mapped_column(Float)
    margin: Mapped[float | None] = mapped_column(Float)
    avg_order_value: Mapped[float | None] = mapped_column(Float)
    first_purchase_at: Mapped[datetime | None]
    last_purchase_at: Mapped[datetime | None]
    days_since_last_purchase: Mapped[float | None] = mapped_column(Float)
    tenure_days: Mapped[float | None] = mapped_column(Float)
    categories_bought: Mapped[int | None] = mapped_column(Integer)
    products_bought: Mapped[int | None] = mapped_column(Integer)
    discount_share: Mapped[float | None] = mapped_column(Float)
    # RFM
    rfm_r: Mapped[int | None] = mapped_column(Integer)
    rfm_f: Mapped[int | None] = mapped_column(Integer)
    rfm_m: Mapped[int | None] = mapped_column(Integer)
    rfm_score: Mapped[str | None] = mapped_column(String(8))
    rfm_segment: Mapped[str | None] = mapped_column(String(32))
    # models
    p_alive: Mapped[float | None] = mapped_column(Float)
    expected_purchases_90d: Mapped[float | None] = mapped_column(Float)
    expected_spend: Mapped[float | None] = mapped_column(Float)
    clv: Mapped[float | None] = mapped_column(Float)
    # who is leaving (kithkin.atrisk): P(no purchase in the next period), CLV x that,
    # and the defection stage with the day it was entered
    at_risk: Mapped[float | None] = mapped_column(Float)
    value_at_risk: Mapped[float | None] = mapped_column(Float)
    defection_stage: Mapped[str | None] = mapped_column(String(16))
    defection_since: Mapped[date | None]
    # interactions
    interactions_90d: Mapped[int | None] = mapped_column(Integer)
    inbound_90d: Mapped[int | None] = mapped_column(Integer)
    outbound_90d: Mapped[int | None] = mapped_column(Integer)
    two_way_ratio: Mapped[float | None] = mapped_column(Float)
    complaints: Mapped[int | None] = mapped_column(Integer)
    complaints_open: Mapped[int | None] = mapped_column(Integer)
    complaints_resolved: Mapped[int | None] = mapped_column(Integer)
    mean_resolution_hours: Mapped[float | None] = mapped_column(Float)
    last_nps: Mapped[float | None] = mapped_column(Float)
    last_csat: Mapped[float | None] = mapped_column(Float)
    satisfaction_trend: Mapped[float | None] = mapped_column(Float)
    referrals: Mapped[int | None] = mapped_column(Integer)
    reviews: Mapped[int | None] = mapped_column(Integer)
    ideas: Mapped[int | None] = mapped_column(Integer)
    service_requests: Mapped[int | None] = mapped_column(Integer)
    # bonds input
    active_memberships: Mapped[int | None] = mapped_column(Integer)
    has_loyalty: Mapped[bool | None]
    has_subscription: Mapped[bool | None]
    has_contract: Mapped[bool | None]
    membership_tier: Mapped[str | None] = mapped_column(String(100))


class MetricsRun(Base):
    """One `kithkin refresh` per as-of: fitted model parameters (JSON) and step timings."""

    __tablename__ = "metrics_run"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    as_of: Mapped[date] = mapped_column(unique=True)
    engine: Mapped[str] = mapped_column(String(16))
    customers: Mapped[int] = mapped_column(Integer, default=0)
    model_params: Mapped[dict[str, Any] | None]
    model_error: Mapped[str | None] = mapped_column(Text)
    timings: Mapped[dict[str, Any] | None]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
