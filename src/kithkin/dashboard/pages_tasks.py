"""The Tasks page: the signed-in person's queue (overdue first), and for managers every
task by owner, team or status; each task is worked in place (done with an outcome,
snooze, reassign, cancel, reopen). Agents see the tasks of their own book and the ones
they own only, here as in the API (the service applies the same scope)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from kithkin.api.deps import CustomerScopeDep, SessionDep, check_permission
from kithkin.api.params import IdPath
from kithkin.auth.roles import Access, Area, role_allows
from kithkin.customers.models import Customer
from kithkin.dashboard.navigation import Page, register_page
from kithkin.dashboard.pages_customer_work import assignable_staff, first_error, form_time
from kithkin.dashboard.web import PageRoute, flash, render, require_page, safe_next
from kithkin.database.base import utcnow
from kithkin.errors import ConflictError, ValidationError
from kithkin.tasks import queue as task_queue
from kithkin.tasks import service as task_service
from kithkin.tasks.models import Task, TaskStatus
from kithkin.tasks.schemas import TaskUpdate
from kithkin.users.models import Role, StaffUser

TASKS = register_page(Page("tasks", "Tasks", "/tasks",
                           frozenset({Role.ADMIN, Role.MANAGER, Role.AGENT}), order=25))
PAGE_SIZE = 50

router = APIRouter(route_class=PageRoute, include_in_schema=False)
TasksUser = Annotated[StaffUser, Depends(require_page(TASKS.key))]


def _customer_names(session: Session, tasks: list[Task]) -> dict[int, str]:
    ids = {t.customer_id for t in tasks if t.customer_id is not None}
    if not ids:
        return {}
    return {c.id: c.display_name for c in session.scalars(
        select(Customer).where(Customer.id.in_(ids)))}


@router.get("/tasks")
def tasks(request: Request, session: SessionDep, user: TasksUser, scope: CustomerScopeDep,
          owner: str = "", team: str = "", status: str = "open", cursor: str | None = None,
          view: str = "mine") -> Response:
    """``view=mine`` (default): my queue; ``view=all``: every task I may see, filtered."""
    now = utcnow()
    staff = assignable_staff(session)
    if view == "all":
        statuses = (status,) if status else ()
        owner_id = int(owner) if owner.isdigit() else None
        rows, next_cursor = task_queue.list_page(
            session=session, scope=scope, limit=PAGE_SIZE, after=cursor, now=now,
            sort="due_at", filters=task_queue.TaskFilters(
                owner_id=owner_id, team=team.strip() or None, statuses=statuses))
    else:
        found = task_queue.queue(session=session, user_id=user.id, limit=PAGE_SIZE,
                                 after=cursor, now=now, cursor_field="cursor")
        rows, next_cursor = found.tasks, found.next_cursor
    open_count, overdue_count = task_queue.queue_counts(session=session, user_id=user.id,
                                                        now=now)
    return render(
        request, "tasks.html", user=user, active="tasks", view=view,
        tasks=[task_service.read(t, now) for t in rows], next_cursor=next_cursor,
        customers=_customer_names(session, rows), staff=staff,
        names={u.id: u.name for u in staff}, open_count=open_count,
        overdue_count=overdue_count, chosen={"owner": owner, "team": team, "status": status},
        statuses=[s.value for s in TaskStatus],
        can_work=role_allows(user.role, Area.TASKS, Access.WRITE),
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""))


def _work(request: Request, session: Session, user: StaffUser, next_url: str,
          change: str, act: Callable[[], Task]) -> Response:
    """Run one change; come back to ``next_url`` with what happened or why not."""
    check_permission(request, user, Area.TASKS, Access.WRITE)
    target = safe_next(next_url, "/tasks")
    try:
        task = act()
    except ValueError as exc:
        session.rollback()
        flash(request, f"Not saved: {first_error(exc)}")
        return RedirectResponse(target, status_code=303)
    except (ValidationError, ConflictError) as exc:
        session.rollback()
        flash(request, f"Not saved: {exc}")
        return RedirectResponse(target, status_code=303)
    session.commit()
    flash(request, f"Task {task.id} {change}.")
    return RedirectResponse(target, status_code=303)


NextField = Annotated[str, Form(alias="next")]


@router.post("/tasks/{task_id:int}/done")
def done(request: Request, session: SessionDep, user: TasksUser, scope: CustomerScopeDep,
         task_id: IdPath, outcome: Annotated[str, Form()] = "",
         next_url: NextField = "/tasks") -> Response:
    return _work(request, session, user, next_url, "done", lambda: task_service.complete(
        session=session, task_id=task_id, outcome=outcome, by=user, scope=scope))


@router.post("/tasks/{task_id:int}/snooze")
def snooze(request: Request, session: SessionDep, user: TasksUser, scope: CustomerScopeDep,
           task_id: IdPath, until: Annotated[str, Form()] = "",
           next_url: NextField = "/tasks") -> Response:
    def act() -> Task:
        when = form_time(until, field="until", default_now=False)
        if when is None:
            raise ValidationError("until: choose the day it comes back")
        return task_service.snooze(session=session, task_id=task_id, until=when, scope=scope)

    return _work(request, session, user, next_url, "snoozed", act)


@router.post("/tasks/{task_id:int}/reassign")
def reassign(request: Request, session: SessionDep, user: TasksUser,
             scope: CustomerScopeDep, task_id: IdPath,
             owner_id: Annotated[str, Form()] = "", team: Annotated[str, Form()] = "",
             next_url: NextField = "/tasks") -> Response:
    def act() -> Task:
        changes = TaskUpdate.model_validate({
            "owner_id": int(owner_id) if owner_id.strip() else None,
            "team": team.strip() or None})
        return task_service.update(session=session, task_id=task_id, changes=changes,
                                   scope=scope)

    return _work(request, session, user, next_url, "reassigned", act)


@router.post("/tasks/{task_id:int}/cancel")
def cancel(request: Request, session: SessionDep, user: TasksUser, scope: CustomerScopeDep,
           task_id: IdPath, note: Annotated[str, Form()] = "",
           next_url: NextField = "/tasks") -> Response:
    return _work(request, session, user, next_url, "cancelled", lambda: task_service.cancel(
        session=session, task_id=task_id, by=user, note=note, scope=scope))


@router.post("/tasks/{task_id:int}/reopen")
def reopen(request: Request, session: SessionDep, user: TasksUser, scope: CustomerScopeDep,
           task_id: IdPath, next_url: NextField = "/tasks") -> Response:
    return _work(request, session, user, next_url, "reopened", lambda: task_service.reopen(
        session=session, task_id=task_id, scope=scope))
