"""Identity resolution runs, the duplicate candidates they find, and the merge log.

A candidate pair is stored once per customer pair (lower id first): re-running
``kithkin identify`` replaces pending candidates and never duplicates a pair a person has
already decided. The merge log keeps a snapshot of every row a merge changed, so a merge
can be undone exactly.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, utcnow


class CandidateStatus(StrEnum):
    PENDING = "pending"
    MERGED = "merged"
    REJECTED = "rejected"
    AUTO_MERGED = "auto_merged"


class IdentityRun(Base):
    """One `kithkin identify` run: thresholds used and what it found (the run report)."""

    __tablename__ = "identity_run"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    engine: Mapped[str] = mapped_column(String(16))
    threshold_merge: Mapped[float] = mapped_column(Float)
    threshold_review: Mapped[float] = mapped_column(Float)
    records: Mapped[int] = mapped_column(BigInteger, default=0)
    candidates: Mapped[int] = mapped_column(BigInteger, default=0)
    auto_merged: Mapped[int] = mapped_column(BigInteger, default=0)
    # Counts of missing or malformed fields, model source (trained or reused), timings.
    report: Mapped[dict[str, Any] | None]


class DuplicateCandidate(Base):
    """A pair of customers Splink scored above the review threshold."""

    __tablename__ = "duplicate_candidate"
    __table_args__ = (
        UniqueConstraint("customer_id_l", "customer_id_r"),
        CheckConstraint("customer_id_l < customer_id_r", name="ordered_pair"),
        Index("ix_duplicate_candidate_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("identity_run.id", ondelete="SET NULL"), index=True
    )
    customer_id_l: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE")
    )
    customer_id_r: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    match_probability: Mapped[float] = mapped_column(Float)
    match_weight: Mapped[float] = mapped_column(Float)
    # {comparison: {"level": label, "weight": log2 Bayes factor incl. term frequency}}
    weights: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=CandidateStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(320))


class CustomerMerge(Base):
    """The log of one merge: who, when, and the before-image of every row it changed.

    Customer ids are plain columns, not foreign keys: the log is history and must outlive
    an erased customer.
    """

    __tablename__ = "customer_merge"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(IdType, index=True)
    merged_id: Mapped[int] = mapped_column(IdType, index=True)
    candidate_id: Mapped[int | None] = mapped_column(IdType)
    actor: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str | None] = mapped_column(Text)
    merged_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None]
    undone_by: Mapped[str | None] = mapped_column(String(320))
    # [{"table": name, "op": "update"|"delete", "row": {column: before value}}, ...]
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
