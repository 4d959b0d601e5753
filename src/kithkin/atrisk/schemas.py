"""What the at-risk list and a customer's defection status look like over the API."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict


class DefectionChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    as_of: date
    changed_on: date
    from_stage: str | None
    to_stage: str
    rule: str
    score: float | None
    evidence: dict[str, Any]


class PAliveRead(BaseModel):
    """P(alive) with the model that gave it; ``value`` is None where the model cannot
    tell (BG/NBD on a one-time buyer says 1 by construction, which is no evidence)."""

    value: float | None
    model: str | None
    chosen_by: str | None
    note: str | None


class DefectionStatusRead(BaseModel):
    customer_id: int
    as_of: date | None
    stage: str | None
    since: date | None
    at_risk: float | None
    value_at_risk: float | None
    clv: float | None
    p_alive: PAliveRead
    changes: list[DefectionChangeRead]


class AtRiskRow(BaseModel):
    customer_id: int
    name: str
    stage: str | None
    since: date | None
    at_risk: float | None
    clv: float | None
    value_at_risk: float | None
    rfm_segment: str | None
    level: str | None
    account_manager_id: int | None
    last_purchase_on: date | None


class AtRiskPage(BaseModel):
    as_of: date | None
    total: int
    rows: list[AtRiskRow]
