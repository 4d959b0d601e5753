"""Listing tasks: filtered pages for managers, and each person's queue.

A person's queue ("my tasks") is the open work that reaches them: tasks they own, and
tasks nobody owns (no owner, no team) about customers they are account manager of, since
an automated rule that could not pick an owner still means the customer's own contact.
It is ordered by urgency: overdue first, then priority, then due time (none last), so the
first row is always the thing to do next. Its cursor carries the time the first page was
read, so paging does not reshuffle when a task falls overdue meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from kithkin.customers.models import Customer
from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.database.base import utcnow
from kithkin.database.pagination import (
    MAX_LIMIT,
    SortKey,
    decode_values,
    encode_values,
    keyset_page,
    parse_sort,
)
from kithkin.errors import ValidationError
from kithkin.tasks.models import PRIORITY_RANK, Task, TaskStatus
from kithkin.tasks.service import visible

# A due time later than any real one: tasks without a due time sort after all others.
_NEVER = datetime(9999, 12, 31, tzinfo=UTC)
SORTS = (SortKey("id", Task.id), SortKey("due_at", Task.due_at, datetime, nullable=True),
         SortKey("created_at", Task.created_at, datetime))
SORT_HELP = "id (default), due_at (no due time last) or created_at; prefix - for descending."


def status_condition(status: str, now: datetime) -> ColumnElement[bool]:
    """Tasks in ``status`` at ``now``: "open" includes snoozes that have run out."""
    woke = and_(Task.status == TaskStatus.SNOOZED, Task.snoozed_until <= now)
    if status == TaskStatus.OPEN:
        return or_(Task.status == TaskStatus.OPEN, woke)
    if status == TaskStatus.SNOOZED:
        return and_(Task.status == TaskStatus.SNOOZED,
                    or_(Task.snoozed_until.is_(None), Task.snoozed_until > now))
    if status in (TaskStatus.DONE, TaskStatus.CANCELLED):
        return Task.status == status
    raise ValidationError(f"status: {status!r} is not one of "
                          + ", ".join(s.value for s in TaskStatus))


@dataclass(frozen=True)
class TaskFilters:
    owner_id: int | None = None
    team: str | None = None
    customer_id: int | None = None
    statuses: Sequence[str] = field(default_factory=tuple)
    reason: str | None = None  # prefix: "playbook:" or "playbook:winback:"
    overdue: bool | None = None

    def conditions(self, now: datetime) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.owner_id is not None:
            found.append(Task.owner_id == self.owner_id)
        if self.team:
            found.append(Task.team == self.team)
        if self.customer_id is not None:
            found.append(Task.customer_id == self.customer_id)
        if self.statuses:
            found.append(or_(*(status_condition(s, now) for s in self.statuses)))
        if self.reason:
            found.append(Task.reason.startswith(self.reason, autoescape=True))
        if self.overdue is not None:
            late = and_(status_condition(TaskStatus.OPEN, now), Task.due_at < now)
            found.append(late if self.overdue else ~late)
        return found


def list_page(*, session: Session, filters: TaskFilters, scope: CustomerScope = EVERYONE,
              sort: str = "id", limit: int = 50, after: str | None = None,
              now: datetime | None = None) -> tuple[list[Task], str | None]:
    """A keyset page of the tasks ``scope`` may see that match ``filters``."""
    key, descending = parse_sort(sort, SORTS)
    query = select(Task).where(*visible(scope), *filters.conditions(now or utcnow()))
    return keyset_page(session=session, query=query, id_column=Task.id, key=key,
                       descending=descending, limit=limit, after=after)


def reaches(user_id: int) -> ColumnElement[bool]:
    """Tasks that reach ``user_id``: owned by them, or unowned about their customers."""
    book = select(Customer.id).where(Customer.account_manager_id == user_id)
    return or_(Task.owner_id == user_id,
               and_(Task.owner_id.is_(None), Task.team.is_(None), Task.customer_id.in_(book)))


def _queue_keys(now: datetime) -> tuple[ColumnElement[Any], ...]:
    overdue = case((and_(Task.due_at.is_not(None), Task.due_at < now), 0), else_=1)
    rank = case(*((Task.priority == name, rank) for name, rank in PRIORITY_RANK.items()),
                else_=len(PRIORITY_RANK))
    due = func.coalesce(Task.due_at, literal(_NEVER, Task.due_at.type))
    task_id: ColumnElement[Any] = Task.__table__.c.id
    return overdue, rank, due, task_id


def _decode_queue_cursor(cursor: str, field: str) -> tuple[list[Any], datetime]:
    """(seek values, as-of time) of a cursor :func:`queue` made; ValidationError naming
    ``field`` for anything else (a forged one must not reach the driver)."""
    values = decode_values(cursor, field=field)
    try:
        as_of_text, overdue, rank, due_text, task_id = values
        as_of, due = datetime.fromisoformat(as_of_text), datetime.fromisoformat(due_text)
        if as_of.tzinfo is None or due.tzinfo is None:
            raise ValueError(as_of_text)
        if not (overdue in (0, 1) and rank in range(len(PRIORITY_RANK) + 1)
                and isinstance(task_id, int) and not isinstance(task_id, bool)):
            raise ValueError(values)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{field}: not a cursor this listing returned") from exc
    return [int(overdue), int(rank), due, task_id], as_of


@dataclass(frozen=True)
class Queue:
    tasks: list[Task]
    next_cursor: str | None
    as_of: datetime


def queue(*, session: Session, user_id: int, limit: int = 50, after: str | None = None,
          now: datetime | None = None, cursor_field: str = "after") -> Queue:
    """The open work that reaches ``user_id``, the most pressing first (module docstring)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit: must be between 1 and {MAX_LIMIT}")
    seek: list[Any] | None = None
    if after:
        seek, as_of = _decode_queue_cursor(after, cursor_field)
    else:
        as_of = now or utcnow()
    keys = _queue_keys(as_of)
    query = select(Task).where(reaches(user_id), status_condition(TaskStatus.OPEN, as_of))
    if seek is not None:
        # the due time bound as the column's type (UTC text on SQLite, like the rows)
        seek[2] = literal(seek[2], Task.due_at.type)
        query = query.where(tuple_(*keys) > tuple_(*seek))
    rows = list(session.scalars(query.order_by(*keys).limit(limit + 1)))
    cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        overdue = 0 if last.due_at is not None and last.due_at < as_of else 1
        cursor = encode_values([as_of, overdue, PRIORITY_RANK.get(last.priority, 4),
                                last.due_at or _NEVER, last.id])
    return Queue(tasks=rows, next_cursor=cursor, as_of=as_of)


def queue_counts(*, session: Session, user_id: int,
                 now: datetime | None = None) -> tuple[int, int]:
    """(open, overdue) tasks reaching ``user_id``: the badge and the page's heading."""
    now = now or utcnow()
    row = session.execute(
        select(func.count(), func.count().filter(Task.due_at < now))
        .where(reaches(user_id), status_condition(TaskStatus.OPEN, now))).one()
    return int(row[0]), int(row[1])


def open_for_customer(*, session: Session, customer_id: int, limit: int = 20,
                      now: datetime | None = None) -> list[Task]:
    """The customer's open and snoozed tasks, the most pressing first (the 360 page)."""
    now = now or utcnow()
    keys = _queue_keys(now)
    return list(session.scalars(
        select(Task).where(Task.customer_id == customer_id,
                           Task.status.in_([TaskStatus.OPEN, TaskStatus.SNOOZED]))
        .order_by(*keys).limit(limit)))
