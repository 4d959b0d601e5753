"""/tasks: follow-up work; everyone's queue at /tasks/mine. Agents see and work only the
tasks of their own book and the ones they own (403 for another's, 404 for none)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from kithkin.api.deps import CustomerScopeDep, SessionDep
from kithkin.api.pagination import DEFAULT_LIMIT, Page
from kithkin.api.params import AfterQuery, IdPath, IdQuery, LimitQuery
from kithkin.api.permissions import TasksRead, TasksWrite
from kithkin.tasks import queue as task_queue
from kithkin.tasks import service as task_service
from kithkin.tasks.schemas import (
    TaskCancel,
    TaskCreate,
    TaskDone,
    TaskRead,
    TaskSnooze,
    TaskUpdate,
)

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.get("", response_model=Page[TaskRead])
def list_tasks(
    session: SessionDep, _: TasksRead, scope: CustomerScopeDep,
    limit: LimitQuery = DEFAULT_LIMIT, after: AfterQuery = None,
    owner_id: IdQuery = None,
    team: Annotated[str | None, Query(max_length=100)] = None,
    customer_id: IdQuery = None,
    status: Annotated[list[str] | None, Query(description=(
        "open (including snoozes that ran out), snoozed, done, cancelled; repeat for "
        "several."))] = None,
    reason: Annotated[str | None, Query(max_length=200, description=(
        "Reason prefix, e.g. playbook: or list:12"))] = None,
    overdue: Annotated[bool | None, Query(description="Open and past due.")] = None,
    sort: Annotated[str, Query(description=task_queue.SORT_HELP)] = "id",
) -> Page[TaskRead]:
    """Tasks matching the filters, a keyset page at a time."""
    filters = task_queue.TaskFilters(owner_id=owner_id, team=team, customer_id=customer_id,
                                     statuses=tuple(status or ()), reason=reason,
                                     overdue=overdue)
    rows, cursor = task_queue.list_page(session=session, filters=filters, scope=scope,
                                        sort=sort, limit=limit, after=after)
    return Page[TaskRead](items=[task_service.read(t) for t in rows], next_cursor=cursor,
                          limit=limit)


@router.get("/mine", response_model=Page[TaskRead])
def my_tasks(session: SessionDep, user: TasksRead, limit: LimitQuery = DEFAULT_LIMIT,
             after: AfterQuery = None) -> Page[TaskRead]:
    """The caller's queue: open tasks they own, and unowned tasks about their customers;
    overdue first, then by priority, then by due time."""
    found = task_queue.queue(session=session, user_id=user.id, limit=limit, after=after)
    return Page[TaskRead](items=[task_service.read(t, found.as_of) for t in found.tasks],
                          next_cursor=found.next_cursor, limit=limit)


@router.post("", response_model=TaskRead, status_code=201,
             responses={200: {"description": "The task already made with this dedupe_key."}})
def create_task(payload: TaskCreate, session: SessionDep, user: TasksWrite,
                scope: CustomerScopeDep, response: Response) -> TaskRead:
    """A task by a person; without owner or team it is the caller's."""
    task, created = task_service.add(session=session, data=payload, created_by=user,
                                     scope=scope)
    session.commit()
    if not created:
        response.status_code = 200
    return task_service.read(task)


@router.get("/{task_id:int}", response_model=TaskRead)
def get_task(task_id: IdPath, session: SessionDep, _: TasksRead,
             scope: CustomerScopeDep) -> TaskRead:
    return task_service.read(task_service.get(session=session, task_id=task_id, scope=scope))


@router.patch("/{task_id:int}", response_model=TaskRead)
def update_task(task_id: IdPath, payload: TaskUpdate, session: SessionDep, _: TasksWrite,
                scope: CustomerScopeDep) -> TaskRead:
    """Edit an open or snoozed task; ``owner_id``/``team`` reassign it."""
    task = task_service.update(session=session, task_id=task_id, changes=payload,
                               scope=scope)
    session.commit()
    return task_service.read(task)


@router.post("/{task_id:int}/snooze", response_model=TaskRead)
def snooze_task(task_id: IdPath, payload: TaskSnooze, session: SessionDep, _: TasksWrite,
                scope: CustomerScopeDep) -> TaskRead:
    task = task_service.snooze(session=session, task_id=task_id, until=payload.until,
                               scope=scope)
    session.commit()
    return task_service.read(task)


@router.post("/{task_id:int}/done", response_model=TaskRead)
def complete_task(task_id: IdPath, payload: TaskDone, session: SessionDep, user: TasksWrite,
                  scope: CustomerScopeDep) -> TaskRead:
    task = task_service.complete(session=session, task_id=task_id, outcome=payload.outcome,
                                 by=user, scope=scope)
    session.commit()
    return task_service.read(task)


@router.post("/{task_id:int}/cancel", response_model=TaskRead)
def cancel_task(task_id: IdPath, session: SessionDep, user: TasksWrite,
                scope: CustomerScopeDep, payload: TaskCancel | None = None) -> TaskRead:
    task = task_service.cancel(session=session, task_id=task_id, by=user,
                               note=payload.note if payload else None, scope=scope)
    session.commit()
    return task_service.read(task)


@router.post("/{task_id:int}/reopen", response_model=TaskRead)
def reopen_task(task_id: IdPath, session: SessionDep, _: TasksWrite,
                scope: CustomerScopeDep) -> TaskRead:
    task = task_service.reopen(session=session, task_id=task_id, scope=scope)
    session.commit()
    return task_service.read(task)
