"""Stored playbook runs, trigger firings and per-customer level overrides.

``playbook_firing`` holds one row per trigger occurrence that a playbook acted on (or
held back): (customer, playbook, rule, occurrence) is unique, so a repeated or
overlapping run records the occurrence once, and the tasks and messages it creates
carry keys derived from it (:mod:`kithkin.playbooks.keys`: the text of the four). A
firing also records whether the customer is in the playbook's holdout (not contacted),
which is what the "what happened" comparison reads, and why an action was skipped (a
message held back at queue time: :mod:`kithkin.playbooks.actions`).

A run after a refresh records up to a firing per customer and trigger, so every index
here is paid a million times: the unique key is the four columns (no text key
beside them), with the customer first so it also serves the per-customer reads and a
customer's deletion or merge; the (playbook, rule, day) index is the recorded-firings
read of each run (:func:`kithkin.playbooks.service.plan`); a run's own firings are
read by their id range (the primary key), not by an index on the run
(benchmarks/results/playbooks_firing_schema.md has what each costs).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, utcnow


class PlaybookRun(Base):
    __tablename__ = "playbook_run"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    as_of: Mapped[date] = mapped_column(index=True)
    # refresh (after `kithkin refresh`), events (after ingestion) or manual
    mode: Mapped[str] = mapped_column(String(16))
    candidates: Mapped[int] = mapped_column(Integer, default=0)  # occurrences seen
    fired: Mapped[int] = mapped_column(Integer, default=0)  # new firings recorded
    holdout: Mapped[int] = mapped_column(Integer, default=0)
    tasks: Mapped[int] = mapped_column(Integer, default=0)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float | None]
    timings: Mapped[dict[str, Any] | None]
    summary: Mapped[dict[str, Any] | None]  # per playbook and rule: counts
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class PlaybookFiring(Base):
    __tablename__ = "playbook_firing"
    __table_args__ = (
        UniqueConstraint("customer_id", "playbook", "rule", "occurrence"),
        Index("ix_playbook_firing_playbook_rule_occurred", "playbook", "rule",
              "occurred_on"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    # runs are kept (no run is deleted), so the SET NULL never has to look firings up
    run_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("playbook_run.id", ondelete="SET NULL"))
    playbook: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))  # the customer's level when it fired
    rule: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"))
    # what occurred: an order or interaction id, a stage-change id, a lapse episode's
    # start date, an anniversary year, a membership id
    occurrence: Mapped[str] = mapped_column(String(64))
    occurred_on: Mapped[date]
    fired_on: Mapped[date]  # the run's as-of: when the actions were created
    holdout: Mapped[bool] = mapped_column(default=False)
    # why no (or not every) action was taken: holdout, no_staff, unavailable:<action>...
    skip_reason: Mapped[str | None] = mapped_column(String(100))


KEY = ["customer_id", "playbook", "rule", "occurrence"]  # the firing's unique key


class CustomerLevelOverride(Base):
    """A customer's own relationship level, winning over their segment's level."""

    __tablename__ = "customer_level_override"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"), unique=True)
    level: Mapped[str] = mapped_column(String(16))
    set_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    set_at: Mapped[datetime] = mapped_column(default=utcnow)
