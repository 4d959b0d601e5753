"""Stored results of the relationship engine.

``customer_stage`` holds one row per customer and model: the current stage, since when,
and the customer's first assignment in that model (when and to which stage);
``stage_change`` is the append-only history of real moves (up or down): a first
assignment is not a move and stays on the current row, until that row goes (the customer
is no longer assessed), when it is kept in the history as a ``new`` change;
``stage_count`` keeps the stage distribution of every refresh for reports over time;
``relationship_profile`` the current health scorecard, bonds and value/needs tiers;
``segment_level`` the recommended relationship level per segment, with a user override
that refreshes never touch. Evidence columns hold JSON text (built column-wise).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, utcnow


def _same_as(column: str) -> Callable[[DefaultExecutionContext], Any]:
    """Default of a first-assignment column: a row inserted without it was written when
    the customer was first assigned (its current stage is its first one)."""
    def default(context: DefaultExecutionContext) -> Any:
        return context.get_current_parameters()[column]  # type: ignore[no-untyped-call]
    return default


class CustomerStage(Base):
    __tablename__ = "customer_stage"
    __table_args__ = (
        UniqueConstraint("model", "customer_id"),
        Index("ix_customer_stage_customer_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(Integer)
    since: Mapped[date]  # as-of of the refresh that moved the customer into this stage
    as_of: Mapped[date]
    evidence: Mapped[str] = mapped_column(Text)
    # the first assignment (the refresh that first assessed the customer in this model):
    # never rewritten by a move, it starts the customer's timeline in the reports
    assigned_at: Mapped[date] = mapped_column(default=_same_as("since"))
    first_stage: Mapped[str] = mapped_column(String(64), default=_same_as("stage"))
    first_rank: Mapped[int] = mapped_column(Integer, default=_same_as("rank"))


class StageChange(Base):
    __tablename__ = "stage_change"
    __table_args__ = (
        Index("ix_stage_change_model_as_of", "model", "as_of"),
        Index("ix_stage_change_customer_model", "customer_id", "model"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[date]
    from_stage: Mapped[str | None] = mapped_column(String(64))
    to_stage: Mapped[str] = mapped_column(String(64))
    from_rank: Mapped[int | None] = mapped_column(Integer)
    to_rank: Mapped[int] = mapped_column(Integer)
    # up | down; new: the first assignment of a customer whose current row was deleted
    direction: Mapped[str] = mapped_column(String(8))
    evidence: Mapped[str] = mapped_column(Text)


class StageCount(Base):
    __tablename__ = "stage_count"
    __table_args__ = (UniqueConstraint("as_of", "model", "stage"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    as_of: Mapped[date]
    model: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(Integer)
    customers: Mapped[int] = mapped_column(Integer)


class RelationshipRun(Base):
    __tablename__ = "relationship_run"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    as_of: Mapped[date] = mapped_column(index=True)
    customers: Mapped[int] = mapped_column(Integer)
    changes: Mapped[int] = mapped_column(Integer)
    moved_down: Mapped[int] = mapped_column(Integer)
    models: Mapped[dict[str, Any] | None]
    timings: Mapped[dict[str, Any] | None]
    # what the data could show: {"signals": {kind: bool}, "presets": {model: preset},
    # "default_margin": ratio assumed where no cost is known} (relationships.signals)
    evidence: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RelationshipProfile(Base):
    __tablename__ = "relationship_profile"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"), unique=True)
    as_of: Mapped[date]
    health_mutual: Mapped[float | None] = mapped_column(Float)
    health_interactive: Mapped[float | None] = mapped_column(Float)
    health_iterative: Mapped[float | None] = mapped_column(Float)
    health_ongoing_benefit: Mapped[float | None] = mapped_column(Float)
    health_behaviour_change: Mapped[float | None] = mapped_column(Float)
    health_unique: Mapped[float | None] = mapped_column(Float)
    health_trust: Mapped[float | None] = mapped_column(Float)
    health_overall: Mapped[float | None] = mapped_column(Float)  # mean of the known ones
    health_known: Mapped[int] = mapped_column(Integer)  # characteristics known
    bond_financial: Mapped[float] = mapped_column(Float)
    bond_social: Mapped[float] = mapped_column(Float)
    bond_customization: Mapped[float] = mapped_column(Float)
    bond_structural: Mapped[float] = mapped_column(Float)
    switching_barrier: Mapped[float] = mapped_column(Float)
    # JSON array: the value of every health and bond input, in engine.PROFILE_INPUTS order,
    # then one object with the other metrics the stage rules read (engine.rule_inputs)
    evidence: Mapped[str] = mapped_column(Text)
    value_tier: Mapped[str] = mapped_column(String(32), index=True)
    net_margin: Mapped[float] = mapped_column(Float)
    potential: Mapped[float] = mapped_column(Float)
    needs_segment: Mapped[str | None] = mapped_column(String(200))


class SegmentLevel(Base):
    __tablename__ = "segment_level"
    __table_args__ = (UniqueConstraint("kind", "segment"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))  # stage:journey, rfm_segment, rule:x...
    segment: Mapped[str] = mapped_column(String(200))
    as_of: Mapped[date]
    customers: Mapped[int] = mapped_column(Integer)
    revenue: Mapped[float] = mapped_column(Float)
    margin: Mapped[float] = mapped_column(Float)
    margin_rate: Mapped[float] = mapped_column(Float)  # known margins, else assumed
    # share of the segment's revenue whose margin is known (0: the assumption alone)
    margin_known_share: Mapped[float | None] = mapped_column(Float)
    size_class: Mapped[str] = mapped_column(String(8))
    margin_class: Mapped[str] = mapped_column(String(8))
    recommended_level: Mapped[str] = mapped_column(String(16))
    override_level: Mapped[str | None] = mapped_column(String(16))
    override_by: Mapped[str | None] = mapped_column(String(200))
    override_at: Mapped[datetime | None]
    override_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def level(self) -> str:
        """The level in force: the user's override wins over the recommendation."""
        return self.override_level or self.recommended_level
