"""Pydantic schemas of the relationship engine (API bodies and service results)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kithkin.relationships.levels import Level


class StageRead(BaseModel):
    name: str
    rank: int
    goal: str
    goal_metric: str
    description: str
    rule: str


class StageModelRead(BaseModel):
    name: str
    title: str
    source: str
    description: str
    path: str
    active: bool
    stages: list[StageRead]


class ModelRefreshSummary(BaseModel):
    model: str
    distribution: dict[str, int]
    new: int
    moved_up: int
    moved_down: int


class RelationshipRefreshReport(BaseModel):
    as_of: date
    customers: int
    models: list[ModelRefreshSummary]
    value_tiers: dict[str, int]
    needs_segments: dict[str, int]
    segments: int
    timings: dict[str, float] = Field(description="Seconds per step.")

    @property
    def moved_down(self) -> int:
        return sum(model.moved_down for model in self.models)


class CustomerStageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    model: str
    stage: str
    rank: int
    since: date  # entered this stage
    assigned_at: date  # first assessed in this model
    as_of: date
    goal: str | None = None
    goal_metric: str | None = None
    evidence: dict[str, Any]


class StageChangeRead(BaseModel):
    model: str
    as_of: date
    from_stage: str | None
    to_stage: str
    direction: str
    evidence: dict[str, Any]


class HealthScorecard(BaseModel):
    mutual: float
    interactive: float
    iterative: float
    ongoing_benefit: float
    behaviour_change: float
    unique: float
    trust: float
    overall: float
    evidence: dict[str, Any]


class BondInventoryRead(BaseModel):
    financial: float
    social: float
    customization: float
    structural: float
    switching_barrier: float
    evidence: dict[str, Any]


class CustomerExplanation(BaseModel):
    customer_id: int
    as_of: date | None
    stages: list[CustomerStageRead]
    history: list[StageChangeRead]
    health: HealthScorecard | None
    bonds: BondInventoryRead | None
    value_tier: str | None
    net_margin: float | None
    potential: float | None
    needs_segment: str | None


class SegmentLevelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    segment: str
    as_of: date
    customers: int
    revenue: float
    margin: float
    margin_rate: float
    size_class: str
    margin_class: str
    recommended_level: str
    override_level: str | None
    override_by: str | None
    override_at: datetime | None
    override_reason: str | None
    level: str


class LevelOverride(BaseModel):
    """An override body; who set it is the authenticated user."""

    level: Level
    reason: str | None = None


class TransitionReport(BaseModel):
    start: date
    end: date
    stages: list[str]
    counts: dict[str, dict[str, int]]
    rates: dict[str, dict[str, float]]
