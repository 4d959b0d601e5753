"""A saved list is a named, versioned filter spec; each bulk action run on it is kept.

Members are never stored: a list is its filter, evaluated when read, so it follows the
latest refresh (a customer who moves down joins a "moved down" list by itself). What a
bulk action did is stored instead, in ``list_action_run``: who ran which action on
which list, when, with which parameters, and how many customers it reached.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, TimestampMixin, utcnow


class CustomerList(TimestampMixin, Base):
    __tablename__ = "customer_list"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    # The validated filter (kithkin.lists.spec.ListSpec) as JSON, with its own version.
    spec: Mapped[dict[str, Any]]
    spec_version: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"))


class ListAction(StrEnum):
    CREATE_TASKS = "create_tasks"
    QUEUE_MESSAGE = "queue_message"
    ASSIGN_MANAGER = "assign_manager"
    ADD_TAG = "add_tag"


class RunStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ListActionRun(Base):
    """One bulk action on one list. ``request_key`` (unique per list) is the caller's
    name for the run: sending the same one again resumes or repeats that run, which the
    dedupe keys of its tasks and messages make a no-op."""

    __tablename__ = "list_action_run"
    __table_args__ = (
        UniqueConstraint("list_id", "request_key"),
        Index("ix_list_action_run_list_started", "list_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    list_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("customer_list.id", ondelete="SET NULL"))
    list_name: Mapped[str] = mapped_column(String(200))  # kept if the list is deleted
    action: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any] | None]
    request_key: Mapped[str] = mapped_column(String(100))
    spec: Mapped[dict[str, Any]]  # the filter as it was when the action ran
    # who: a staff user (API, dashboard) or nobody (the CLI, which names itself in via)
    created_by_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"))
    via: Mapped[str] = mapped_column(String(16))  # api | dashboard | cli
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.RUNNING)
    members: Mapped[int | None] = mapped_column(Integer)  # customers matched
    affected: Mapped[int | None] = mapped_column(Integer)  # tasks created, tags added...
    skipped: Mapped[int | None] = mapped_column(Integer)  # messages skipped (consent, caps)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
