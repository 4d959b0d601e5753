"""A task is one piece of follow-up work about one customer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, TimestampMixin


class TaskStatus(StrEnum):
    OPEN = "open"
    SNOOZED = "snoozed"
    DONE = "done"
    CANCELLED = "cancelled"


class TaskPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


# Queue order: the most pressing first.
PRIORITY_RANK: dict[str, int] = {TaskPriority.URGENT: 0, TaskPriority.HIGH: 1,
                                 TaskPriority.NORMAL: 2, TaskPriority.LOW: 3}


class Task(TimestampMixin, Base):
    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_owner_status_due", "owner_id", "status", "due_at"),
        Index("ix_task_customer_status", "customer_id", "status"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    details: Mapped[str | None] = mapped_column(Text)
    # Owner: a staff member, or a team name when nobody is assigned yet.
    owner_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"))
    team: Mapped[str | None] = mapped_column(String(100))
    priority: Mapped[str] = mapped_column(String(16), default=TaskPriority.NORMAL)
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.OPEN)
    due_at: Mapped[datetime | None]
    snoozed_until: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]
    # Who marked it done or cancelled (the outcome is theirs).
    closed_by_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"))
    # Why it exists: "playbook:<name>:<trigger>", "list:<id>", "retention:exit_interview"
    # or "person" (created by hand; created_by_id says who).
    reason: Mapped[str] = mapped_column(String(200), default="person")
    created_by_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"))
    # The same trigger never creates the same task twice, even from overlapping runs:
    # the unique key makes the second insert a no-op.
    dedupe_key: Mapped[str | None] = mapped_column(String(300), unique=True)
