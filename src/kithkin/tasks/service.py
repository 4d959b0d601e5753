"""Creating and working tasks.

A task moves open -> snoozed -> open (when its time comes, or reopened), and ends done
(with an outcome) or cancelled; a closed task can be reopened. Reads never write: a
snoozed task whose ``snoozed_until`` has passed simply counts as open again (see
:func:`status_now`), so no job has to wake it.

Who may see a task: everyone but agents sees every task; an agent sees the tasks of their
own book (customers whose account manager they are) and the tasks they own, so work
handed to them about another customer still reaches them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from kithkin.customers.models import Customer
from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.database.base import utcnow
from kithkin.database.core import add_once, get_or_raise
from kithkin.errors import ConflictError, PermissionDeniedError, ValidationError
from kithkin.tasks.models import Task, TaskPriority, TaskStatus
from kithkin.tasks.schemas import TaskCreate, TaskRead, TaskUpdate
from kithkin.users.models import StaffUser

CLOSED = (TaskStatus.DONE, TaskStatus.CANCELLED)


def create_task(*, session: Session, title: str, customer_id: int | None = None,
                reason: str = "person", owner_id: int | None = None,
                team: str | None = None, due_at: datetime | None = None,
                priority: str = TaskPriority.NORMAL, details: str | None = None,
                created_by_id: int | None = None, dedupe_key: str | None = None) -> Task:
    """Create a task, or return the one already created for ``dedupe_key``.

    Idempotent under concurrency: the insert runs in a savepoint and a unique-key
    conflict (another run got there first) returns the stored task instead."""
    if dedupe_key is not None:
        existing = session.scalar(select(Task).where(Task.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    task = Task(title=title, customer_id=customer_id, reason=reason, owner_id=owner_id,
                team=team, due_at=due_at, priority=priority, details=details,
                created_by_id=created_by_id, dedupe_key=dedupe_key)
    return add_once(session, task, key_column=Task.dedupe_key, key=dedupe_key)


# --- Who sees what ---------------------------------------------------------------------

def visible(scope: CustomerScope) -> list[ColumnElement[bool]]:
    """SQL conditions on ``task``: the tasks ``scope`` may see (none for everyone)."""
    if scope.everyone:
        return []
    book = select(Customer.id).where(*scope.customers())
    return [or_(Task.owner_id == scope.account_manager_id, Task.customer_id.in_(book))]


def _check_visible(session: Session, task: Task, scope: CustomerScope) -> None:
    if scope.everyone or task.owner_id == scope.account_manager_id:
        return
    if task.customer_id is not None:
        manager = session.scalar(select(Customer.account_manager_id)
                                 .where(Customer.id == task.customer_id))
        if manager == scope.account_manager_id:
            return
    raise PermissionDeniedError(
        f"task {task.id} is not yours: agents see the tasks they own and those of the "
        "customers they are account manager of")


def get(*, session: Session, task_id: int, scope: CustomerScope = EVERYONE) -> Task:
    """The task, or NotFoundError; PermissionDeniedError when ``scope`` may not see it."""
    task = get_or_raise(session, Task, task_id, "task")
    _check_visible(session, task, scope)
    return task


def status_now(task: Task, now: datetime | None = None) -> str:
    """The task's state at ``now``: a snooze that has run out reads as open."""
    if (task.status == TaskStatus.SNOOZED and task.snoozed_until is not None
            and task.snoozed_until <= (now or utcnow())):
        return TaskStatus.OPEN
    return task.status


def read(task: Task, now: datetime | None = None) -> TaskRead:
    """The API's view of a task at ``now`` (status as of now, overdue flag)."""
    now = now or utcnow()
    status = status_now(task, now)
    result = TaskRead.model_validate(task).model_copy(update={"status": status})
    result.overdue = (status == TaskStatus.OPEN and task.due_at is not None
                      and task.due_at < now)
    return result


# --- Changing tasks --------------------------------------------------------------------

def _active_owner(session: Session, owner_id: int) -> None:
    owner = session.get(StaffUser, owner_id)
    if owner is None or not owner.is_active:
        raise ValidationError(f"owner_id: {owner_id} is not an active staff user")


def _clean_team(team: str | None) -> str | None:
    return (team or "").strip() or None


def add(*, session: Session, data: TaskCreate, created_by: StaffUser | None,
        scope: CustomerScope = EVERYONE) -> tuple[Task, bool]:
    """A task made by a person (reason "person"); returns (task, created). Without an
    owner or a team the creator owns it (``created_by`` None: the command line without
    ``--as``). An agent creates tasks about the customers of their book only; a
    ``dedupe_key`` already used returns that task (created False)."""
    title = data.title.strip()
    if not title:
        raise ValidationError("title: must not be blank")
    if data.customer_id is not None:
        get_or_raise(session, Customer, data.customer_id, "customer")
        scope.check(session=session, customer_id=data.customer_id)
    team = _clean_team(data.team)
    owner_id = data.owner_id
    if owner_id is None and team is None:
        if created_by is None:
            raise ValidationError("owner_id: a task needs an owner or a team")
        owner_id = created_by.id
    if owner_id is not None:
        _active_owner(session, owner_id)
    if data.dedupe_key is not None:
        existing = session.scalar(select(Task).where(Task.dedupe_key == data.dedupe_key))
        if existing is not None:
            try:
                _check_visible(session, existing, scope)
            except PermissionDeniedError as exc:
                raise ConflictError(f"dedupe_key: {data.dedupe_key!r} is taken by a "
                                    "task you cannot see") from exc
            return existing, False
    task = create_task(session=session, title=title, customer_id=data.customer_id,
                       reason="person", owner_id=owner_id, team=team, due_at=data.due_at,
                       priority=data.priority, details=data.details,
                       created_by_id=created_by.id if created_by else None,
                       dedupe_key=data.dedupe_key)
    session.flush()
    return task, True


def _open_task(session: Session, task_id: int, scope: CustomerScope, doing: str) -> Task:
    task = get(session=session, task_id=task_id, scope=scope)
    if task.status in CLOSED:
        raise ConflictError(f"task {task_id} is {task.status}: reopen it to {doing}")
    return task


def update(*, session: Session, task_id: int, changes: TaskUpdate,
           scope: CustomerScope = EVERYONE) -> Task:
    """Edit an open or snoozed task with the fields sent; sending ``owner_id`` or
    ``team`` reassigns it (a task needs an owner or a team, or it reaches nobody)."""
    task = _open_task(session, task_id, scope, "change it")
    sent = changes.model_fields_set
    if "title" in sent:
        title = (changes.title or "").strip()
        if not title:
            raise ValidationError("title: must not be blank")
        task.title = title
    if "details" in sent:
        task.details = changes.details
    if "due_at" in sent:
        task.due_at = changes.due_at
    if "priority" in sent:
        if changes.priority is None:
            raise ValidationError("priority: must be one of "
                                  + ", ".join(p.value for p in TaskPriority))
        task.priority = changes.priority
    if "owner_id" in sent or "team" in sent:
        owner_id = changes.owner_id if "owner_id" in sent else task.owner_id
        team = _clean_team(changes.team) if "team" in sent else task.team
        if owner_id is None and team is None:
            raise ValidationError("owner_id: a task needs an owner or a team")
        if owner_id is not None and owner_id != task.owner_id:
            _active_owner(session, owner_id)
        task.owner_id, task.team = owner_id, team
    session.flush()
    return task


def snooze(*, session: Session, task_id: int, until: datetime,
           scope: CustomerScope = EVERYONE, now: datetime | None = None) -> Task:
    """Put the task aside until ``until`` (in the future); snoozing again moves it."""
    if until <= (now or utcnow()):
        raise ValidationError(f"until: {until.isoformat()} is not in the future")
    task = _open_task(session, task_id, scope, "snooze it")
    task.status, task.snoozed_until = TaskStatus.SNOOZED, until
    session.flush()
    return task


def complete(*, session: Session, task_id: int, outcome: str, by: StaffUser | None,
             scope: CustomerScope = EVERYONE) -> Task:
    """Mark the task done with what came of it. Sending the same outcome again is a
    no-op (a retried request); a different one is a conflict."""
    outcome = outcome.strip()
    if not outcome:
        raise ValidationError("outcome: say what was done")
    task = get(session=session, task_id=task_id, scope=scope)
    if task.status == TaskStatus.DONE and task.outcome == outcome:
        return task
    if task.status in CLOSED:
        raise ConflictError(f"task {task_id} is already {task.status}: reopen it to "
                            "record another outcome")
    _close(task, TaskStatus.DONE, outcome, by)
    session.flush()
    return task


def cancel(*, session: Session, task_id: int, by: StaffUser | None,
           note: str | None = None,
           scope: CustomerScope = EVERYONE) -> Task:
    """Drop the task (no longer needed); idempotent on a cancelled task."""
    task = get(session=session, task_id=task_id, scope=scope)
    if task.status == TaskStatus.CANCELLED:
        return task
    if task.status == TaskStatus.DONE:
        raise ConflictError(f"task {task_id} is done: reopen it to cancel it")
    _close(task, TaskStatus.CANCELLED, (note or "").strip() or None, by)
    session.flush()
    return task


def _close(task: Task, status: TaskStatus, outcome: str | None,
           by: StaffUser | None) -> None:
    """``by`` None: closed from the command line without ``--as`` (nobody recorded)."""
    task.status, task.outcome = status, outcome
    task.closed_at, task.snoozed_until = utcnow(), None
    task.closed_by_id = by.id if by is not None else None


def reopen(*, session: Session, task_id: int, scope: CustomerScope = EVERYONE) -> Task:
    """Back to open: a closed task loses its outcome, a snoozed one its snooze."""
    task = get(session=session, task_id=task_id, scope=scope)
    task.status, task.snoozed_until = TaskStatus.OPEN, None
    task.outcome = task.closed_at = task.closed_by_id = None
    session.flush()
    return task
