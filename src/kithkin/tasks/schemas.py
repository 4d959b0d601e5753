"""Tasks as the API reads and writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from kithkin.fields import IsoDatetime, RowId
from kithkin.tasks.models import TaskPriority, TaskStatus


def _in_utc(value: datetime) -> datetime:
    """A time without offset is UTC (as the dashboard's date fields say); every time is
    stored in UTC, so one the calendar cannot hold there is refused here, not by the
    store."""
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("is out of range once converted to UTC") from exc


When = Annotated[IsoDatetime, AfterValidator(_in_utc)]


class TaskRead(BaseModel):
    """``status`` is the task's state now: a snoozed task whose ``snoozed_until`` has
    passed reads as open (it is back in its owner's queue), ``overdue`` is an open task
    past its due time."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int | None
    title: str
    details: str | None
    owner_id: int | None
    team: str | None
    priority: str
    status: str
    due_at: datetime | None
    snoozed_until: datetime | None
    outcome: str | None
    closed_at: datetime | None
    closed_by_id: int | None
    reason: str
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime
    overdue: bool = False


class TaskCreate(BaseModel):
    """A task made by a person (``reason`` "person"); without owner nor team it is the
    caller's."""

    title: str = Field(min_length=1, max_length=300)
    customer_id: RowId | None = None
    details: str | None = Field(default=None, max_length=10_000)
    owner_id: RowId | None = None
    team: str | None = Field(default=None, min_length=1, max_length=100)
    due_at: When | None = None
    priority: TaskPriority = TaskPriority.NORMAL
    dedupe_key: str | None = Field(
        default=None, min_length=1, max_length=300,
        description="Client key making the call idempotent: the same key returns the "
                    "task it first created.")


class TaskUpdate(BaseModel):
    """Edits of an open or snoozed task; only the fields sent change. Reassigning is
    sending ``owner_id`` and/or ``team`` (null clears one)."""

    title: str | None = Field(default=None, min_length=1, max_length=300)
    details: str | None = Field(default=None, max_length=10_000)
    owner_id: RowId | None = None
    team: str | None = Field(default=None, min_length=1, max_length=100)
    due_at: When | None = None
    priority: TaskPriority | None = None


class TaskSnooze(BaseModel):
    until: When = Field(description="When the task comes back; in the future.")


class TaskDone(BaseModel):
    outcome: str = Field(min_length=1, max_length=10_000,
                         description="What was done and how it went.")


class TaskCancel(BaseModel):
    note: str | None = Field(default=None, max_length=10_000,
                             description="Why it is no longer needed (kept as outcome).")


STATUSES = [status.value for status in TaskStatus]
