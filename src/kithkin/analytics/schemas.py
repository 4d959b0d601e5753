"""Read models of the stored metrics (API and CLI)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from kithkin.analytics.catalog import CONTRACT_FIELDS


def _contract_fields() -> dict[str, Any]:
    return {name: (kind | None, ...) if nullable else (kind, ...)
            for name, (kind, nullable) in CONTRACT_FIELDS.items()}


class _MetricKey(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    as_of: date
    customer_id: int


# The metrics are generated from the model (kithkin.analytics.catalog): a new metric column
# is served as is.
_CustomerMetricFields = create_model(
    "_CustomerMetricFields", __base__=_MetricKey, **_contract_fields())


class CustomerMetricRead(_CustomerMetricFields):
    """One customer's metrics at one as-of date (columns of docs/architecture.md)."""


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
