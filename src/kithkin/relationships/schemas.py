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
    preset_in_use: str | None = Field(
        default=None, description="The preset the latest refresh assigned with instead "
        "of this model (transaction_only: the data lacks the evidence its rules read).")
    stages: list[StageRead]


class ModelRefreshSummary(BaseModel):
    model: str
    distribution: dict[str, int]
    new: int
    moved_up: int
    moved_down: int


class DataEvidence(BaseModel):
    """What the data could show at a refresh (kithkin.relationships.signals)."""

    signals: dict[str, bool]
    presets: dict[str, str] = Field(description="model -> preset used instead of it")
    default_margin: float = Field(description="The setting KITHKIN_DEFAULT_MARGIN.")
    assumed_margin: float | None = Field(
        default=None, description="Ratio a customer's unknown margin was assumed at: the "
        "data's own ratio when some costs are known (as CLV), else default_margin.")
    assumed_from: str | None = Field(default=None, description="data or default_margin")
    summary: str = Field(description="The same in plain words.")


class RelationshipRefreshReport(BaseModel):
    as_of: date
    customers: int
    models: list[ModelRefreshSummary]
    value_tiers: dict[str, int]
    needs_segments: dict[str, int]
    segments: int
    timings: dict[str, float] = Field(description="Seconds per step.")
    evidence: DataEvidence | None = Field(
        default=None, description="The kinds of evidence the data holds, the presets "
        "chosen for it and the margin assumed where no cost is known.")

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
    """Scores 0-100; None where the data cannot show the characteristic (unknown, not
    0). ``overall`` is the mean of the ``known`` characteristics."""

    mutual: float | None
    interactive: float | None
    iterative: float | None
    ongoing_benefit: float | None
    behaviour_change: float | None
    unique: float | None
    trust: float | None
    overall: float | None
    known: int | None = None
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
    margin_known_share: float | None = Field(
        default=None, description="Share of the segment's revenue whose margin is known; "
        "below 1 the rest is assumed at default_margin (0: the rate is the assumption).")
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
