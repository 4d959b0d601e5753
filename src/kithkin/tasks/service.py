"""Creating and working tasks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kithkin.tasks.models import Task, TaskPriority


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
    try:
        with session.begin_nested():
            session.add(task)
    except IntegrityError:
        if dedupe_key is None:
            raise
        stored = session.scalar(select(Task).where(Task.dedupe_key == dedupe_key))
        assert stored is not None
        return stored
    return task
