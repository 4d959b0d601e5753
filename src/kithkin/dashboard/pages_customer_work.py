"""Working from the customer 360 page: log an interaction, create a task, edit what the
firm remembers (preferences), and see the customer's open tasks.

Every form posts here and comes back to the customer's page with a one-line notice; a
refused or invalid form says why in that notice and changes nothing. Roles are checked
as the API checks them (interactions, tasks and customers write permissions, the
agent's book), so a form shown by mistake still cannot do more than the role allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from kithkin.api.deps import CustomerScopeDep, SessionDep, check_permission
from kithkin.api.params import IdPath
from kithkin.auth.roles import Access, Area, role_allows
from kithkin.customers.models import Channel
from kithkin.customers.scope import CustomerScope
from kithkin.dashboard import navigation
from kithkin.dashboard.web import PageRoute, flash, require_page
from kithkin.database.base import utcnow
from kithkin.errors import ConflictError, ValidationError
from kithkin.interactions import service as interaction_service
from kithkin.interactions.models import Direction, InteractionChannel, InteractionKind
from kithkin.interactions.schemas import InteractionCreate
from kithkin.preferences import service as preference_service
from kithkin.preferences.schemas import PreferencesRead, PreferencesUpdate
from kithkin.tasks import queue as task_queue
from kithkin.tasks import service as task_service
from kithkin.tasks.models import TaskPriority
from kithkin.tasks.schemas import TaskCreate, TaskRead
from kithkin.users import service as user_service
from kithkin.users.models import Role, StaffUser

router = APIRouter(route_class=PageRoute, include_in_schema=False)
CustomersUser = Annotated[StaffUser, Depends(require_page(navigation.CUSTOMERS.key))]

# The kinds staff log by hand, in the order the form offers them.
LOGGED_KINDS = (InteractionKind.CALL, InteractionKind.MEETING, InteractionKind.EMAIL,
                InteractionKind.COMPLAINT, InteractionKind.SERVICE_REQUEST,
                InteractionKind.SURVEY_RESPONSE, InteractionKind.EXIT_INTERVIEW,
                InteractionKind.IDEA, InteractionKind.REFERRAL, InteractionKind.INQUIRY,
                InteractionKind.VISIT, InteractionKind.REVIEW)


@dataclass(frozen=True)
class CustomerWork:
    """What the 360 page's work sections show and which forms the user may use."""

    tasks: list[TaskRead]
    preferences: PreferencesRead
    staff: list[StaffUser]
    can_log: bool
    can_task: bool
    can_edit: bool
    kinds: tuple[InteractionKind, ...] = LOGGED_KINDS
    directions: tuple[Direction, ...] = tuple(Direction)
    channels: tuple[InteractionChannel, ...] = tuple(InteractionChannel)
    priorities: tuple[TaskPriority, ...] = tuple(TaskPriority)
    contact_channels: tuple[Channel, ...] = tuple(Channel)


def customer_work(*, session: Session, user: StaffUser, customer_id: int) -> CustomerWork:
    """The context of ``_customer_work.html`` and ``_customer_preferences.html``."""
    now = utcnow()
    tasks = task_queue.open_for_customer(session=session, customer_id=customer_id, now=now)
    can_task = role_allows(user.role, Area.TASKS, Access.WRITE)
    return CustomerWork(
        tasks=[task_service.read(t, now) for t in tasks],
        preferences=preference_service.get(session=session, customer_id=customer_id),
        staff=assignable_staff(session) if can_task else [],
        can_log=role_allows(user.role, Area.INTERACTIONS, Access.WRITE),
        can_task=can_task, can_edit=role_allows(user.role, Area.CUSTOMERS, Access.WRITE))


def assignable_staff(session: Session) -> list[StaffUser]:
    """Who a task can be given to: active staff who work customers."""
    return [u for u in user_service.list_users(session=session)
            if u.is_active and u.role in {Role.AGENT, Role.MANAGER, Role.ADMIN}]


def _back(request: Request, customer_id: int, message: str) -> Response:
    flash(request, message)
    return RedirectResponse(f"/customers/{customer_id}", status_code=303)


def _refused(request: Request, session: Session, customer_id: int, what: str,
             exc: Exception) -> Response:
    session.rollback()
    return _back(request, customer_id, f"{what} not saved: {exc}")


def _items(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def form_time(value: str, *, field: str, default_now: bool) -> datetime | None:
    """A form's date or datetime-local value, read as UTC (blank: now or None)."""
    value = value.strip()
    if not value:
        return utcnow() if default_now else None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(9), UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"{field}: {value!r} is not a date") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _check(request: Request, session: Session, user: StaffUser, scope: CustomerScope,
           customer_id: int, area: Area) -> None:
    check_permission(request, user, area, Access.WRITE)
    scope.check(session=session, customer_id=customer_id)


@router.post("/customers/{customer_id:int}/interactions")
def log_interaction(
    request: Request, session: SessionDep, user: CustomersUser, scope: CustomerScopeDep,
    customer_id: IdPath, kind: Annotated[str, Form()],
    direction: Annotated[str, Form()] = Direction.OUTBOUND,
    channel: Annotated[str, Form()] = "", subject: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "", score: Annotated[str, Form()] = "",
    score_scale: Annotated[str, Form()] = "", tags: Annotated[str, Form()] = "",
    occurred_at: Annotated[str, Form()] = "",
) -> Response:
    _check(request, session, user, scope, customer_id, Area.INTERACTIONS)
    try:
        data = InteractionCreate.model_validate({
            "customer_id": customer_id, "kind": kind, "direction": direction,
            "channel": channel or None, "subject": subject.strip() or None,
            "text": text.strip() or None,
            "score": float(score) if score.strip() else None,
            "score_scale": score_scale or None if score.strip() else None,
            "tags": _items(tags) or None,
            "occurred_at": form_time(occurred_at, field="when", default_now=True)})
        interaction_service.log(session=session, data=data, staff_user_id=user.id)
    except ValueError as exc:  # pydantic's ValidationError and float() are ValueErrors
        return _refused(request, session, customer_id, "Interaction",
                        ValidationError(first_error(exc)))
    except (ValidationError, ConflictError) as exc:
        return _refused(request, session, customer_id, "Interaction", exc)
    session.commit()
    return _back(request, customer_id,
                 f"{kind.replace('_', ' ').capitalize()} logged.")


def first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg', 'invalid')}"
    return str(exc)


@router.post("/customers/{customer_id:int}/tasks")
def create_task(
    request: Request, session: SessionDep, user: CustomersUser, scope: CustomerScopeDep,
    customer_id: IdPath, title: Annotated[str, Form()],
    owner_id: Annotated[str, Form()] = "", team: Annotated[str, Form()] = "",
    due: Annotated[str, Form()] = "", priority: Annotated[str, Form()] = "normal",
    details: Annotated[str, Form()] = "",
) -> Response:
    _check(request, session, user, scope, customer_id, Area.TASKS)
    try:
        data = TaskCreate.model_validate({
            "title": title, "customer_id": customer_id, "priority": priority,
            "owner_id": int(owner_id) if owner_id.strip() else None,
            "team": team.strip() or None, "details": details.strip() or None,
            "due_at": form_time(due, field="due", default_now=False)})
        task, _ = task_service.add(session=session, data=data, created_by=user,
                                   scope=scope)
    except ValueError as exc:
        return _refused(request, session, customer_id, "Task",
                        ValidationError(first_error(exc)))
    except (ValidationError, ConflictError) as exc:
        return _refused(request, session, customer_id, "Task", exc)
    session.commit()
    return _back(request, customer_id, f"Task {task.id} created.")


@router.post("/customers/{customer_id:int}/preferences")
def save_preferences(
    request: Request, session: SessionDep, user: CustomersUser, scope: CustomerScopeDep,
    customer_id: IdPath, categories: Annotated[str, Form()] = "",
    brands: Annotated[str, Form()] = "", sizes: Annotated[str, Form()] = "",
    channels: Annotated[list[str] | None, Form()] = None,
    notes: Annotated[str, Form()] = "",
) -> Response:
    _check(request, session, user, scope, customer_id, Area.CUSTOMERS)
    try:
        data = PreferencesUpdate(categories=_items(categories), brands=_items(brands),
                                 sizes=_items(sizes), channels=channels or [],
                                 notes=notes.strip() or None)
        preference_service.save(session=session, customer_id=customer_id, data=data,
                                staff_user_id=user.id)
    except ValueError as exc:
        return _refused(request, session, customer_id, "Preferences",
                        ValidationError(first_error(exc)))
    except (ValidationError, ConflictError) as exc:
        return _refused(request, session, customer_id, "Preferences", exc)
    session.commit()
    return _back(request, customer_id, "Preferences saved.")
