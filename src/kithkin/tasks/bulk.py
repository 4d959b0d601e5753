"""Tasks for many customers at once: one ``INSERT ... SELECT`` with the same dedupe
semantics as :func:`kithkin.tasks.service.create_task`.

A list's "create tasks" over 100k customers would take minutes as 100k ORM inserts; as
one statement the database writes them without a row coming into Python. Each task's
``dedupe_key`` is ``<prefix><customer id>`` (or the selected row's own key: a playbook
firing's) and the unique key on it makes a repeated run insert nothing (``ON CONFLICT
DO NOTHING``), exactly as ``create_task`` returns the stored task for a known key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, cast, func, select, true
from sqlalchemy.orm import Session

from kithkin.database.base import utcnow
from kithkin.database.setwise import insert_ignoring, typed
from kithkin.tasks.models import Task, TaskPriority, TaskStatus

COLUMNS = ["customer_id", "title", "details", "owner_id", "team", "priority", "status",
           "due_at", "reason", "created_by_id", "dedupe_key", "created_at", "updated_at"]


def create_tasks_for(*, session: Session, customers: Select[*tuple[Any, ...]],
                     title: str, reason: str, dedupe_prefix: str = "",
                     owner_id: int | None = None, owner_is_account_manager: bool = False,
                     team: str | None = None, due_at: datetime | None = None,
                     priority: str = TaskPriority.NORMAL, details: str | None = None,
                     created_by_id: int | None = None) -> int:
    """One open task per row ``customers`` selects (its first columns: customer id,
    account manager id); returns how many were new (the rest had their key already).

    Each task's dedupe key is ``dedupe_prefix`` and the customer id, or the row's
    ``key`` column where it has one (a playbook firing's key: several tasks per
    customer); a ``details`` column gives each task its own details. The owner is
    ``owner_id``, or with ``owner_is_account_manager`` each customer's own account
    manager (``owner_id`` then stands in for customers without one; ``team`` names who
    picks up a task that still has no owner)."""
    now = utcnow()
    chosen = customers.subquery()
    customer_id, manager_id = chosen.c[0], chosen.c[1]
    owner: ColumnElement[int | None] = typed(session, owner_id, Task.owner_id)
    if owner_is_account_manager:
        owner = func.coalesce(manager_id, owner)
    own = chosen.c.get("key")
    key = typed(session, dedupe_prefix, Task.dedupe_key) + (
        cast(customer_id, String) if own is None else own)
    rows = select(
        customer_id, typed(session, title, Task.title),
        chosen.c.get("details", typed(session, details, Task.details)),
        owner, typed(session, team, Task.team), typed(session, str(priority), Task.priority),
        typed(session, TaskStatus.OPEN.value, Task.status), typed(session, due_at, Task.due_at),
        typed(session, reason, Task.reason), typed(session, created_by_id, Task.created_by_id),
        key, typed(session, now, Task.created_at), typed(session, now, Task.updated_at),
    ).where(true())
    statement = insert_ignoring(session, Task, ["dedupe_key"]).from_select(COLUMNS, rows)
    return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]
