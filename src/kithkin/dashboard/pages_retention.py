"""The Retention page, the complaints list with its lifecycle buttons, and the exit
interview on the customer page (a customer-page section, see
:mod:`kithkin.dashboard.sections`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from kithkin.api.deps import CustomerScopeDep, SessionDep, SettingsDep
from kithkin.api.params import IdPath
from kithkin.config import Settings
from kithkin.dashboard import navigation, retention_view, sections
from kithkin.dashboard.navigation import ANALYTICS, EVERYONE, Page, register_page
from kithkin.dashboard.web import PageRoute, flash, render, require_page
from kithkin.errors import ValidationError
from kithkin.interactions.models import Interaction
from kithkin.retention import complaints
from kithkin.retention import service as retention_service
from kithkin.retention.taxonomy import DEFECTOR_TYPES, REASON_CATEGORIES, REASON_LABELS
from kithkin.users.models import StaffUser

router = APIRouter(route_class=PageRoute, include_in_schema=False)

RETENTION = register_page(Page("retention", "Retention", "/retention", ANALYTICS, order=35))
COMPLAINTS = register_page(Page("complaints", "Complaints", "/complaints", EVERYONE,
                                order=45))
RetentionUser = Annotated[StaffUser, Depends(require_page(RETENTION.key))]
ComplaintsUser = Annotated[StaffUser, Depends(require_page(COMPLAINTS.key))]


def _exit_section(session: Session, customer_id: int, _settings: Settings) -> dict[str, Any]:
    return {"interviews": retention_service.for_customer(session, customer_id),
            "complaints": complaints.customer_complaints(session, customer_id),
            "categories": [(c, REASON_LABELS[c]) for c in REASON_CATEGORIES],
            "types": DEFECTOR_TYPES}


sections.register_customer_section(sections.CustomerSection(
    key="exit-interview", title="Complaints and exit interview",
    template="_customer_exit_interview.html", loader=_exit_section, order=60))


@router.get("/retention")
def retention(request: Request, session: SessionDep, settings: SettingsDep,
              user: RetentionUser, as_of: str = "", lapse_days: int = 365) -> Response:
    """Retention figures as of the latest refresh (or ``?as_of=YYYY-MM-DD``)."""
    try:
        chosen = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise ValidationError(f"as_of: {as_of!r} is not a date (YYYY-MM-DD)") from None
    if lapse_days < 1:
        raise ValidationError("lapse_days: must be at least 1")
    view = retention_view.build(session=session, settings=settings, as_of=chosen,
                                lapse_days=lapse_days)
    return render(request, "retention.html", user=user, active="retention", view=view,
                  labels=REASON_LABELS)


@router.get("/complaints")
def complaint_list(request: Request, session: SessionDep, user: ComplaintsUser,
                   scope: CustomerScopeDep, state: str = "open") -> Response:
    query = (select(Interaction).where(Interaction.kind == "complaint",
                                       *scope.rows(Interaction.customer_id))
             .order_by(Interaction.occurred_at.desc()).limit(200))
    if state == "open":
        query = query.where(Interaction.resolved_at.is_(None),
                            Interaction.status.not_in(["resolved", "closed"])
                            | Interaction.status.is_(None))
    rows = [(row, complaints.lifecycle_state(row)) for row in session.scalars(query)]
    return render(request, "complaints.html", user=user, active="complaints", rows=rows,
                  state=state)


@router.post("/complaints/{complaint_id:int}/{action}")
def move_complaint(request: Request, session: SessionDep, user: ComplaintsUser,
                   scope: CustomerScopeDep, complaint_id: IdPath, action: str,
                   back: Annotated[str, Form()] = "/complaints") -> Response:
    row = session.get(Interaction, complaint_id)
    scope.check(session=session, customer_id=row.customer_id if row else None)
    if action == "respond":
        complaints.respond(session=session, complaint_id=complaint_id, owner_id=user.id)
    elif action == "resolve":
        complaints.resolve(session=session, complaint_id=complaint_id, owner_id=user.id)
    else:
        raise ValidationError(f"action: {action!r} is not respond or resolve")
    session.commit()
    flash(request, f"Complaint {complaint_id}: {action}d.".replace("ed.d.", "ed."))
    target = back if back.startswith("/") and not back.startswith("//") else "/complaints"
    return RedirectResponse(target, status_code=303)


@router.post("/retention/exit-interviews/{customer_id:int}")
def add_exit_interview(request: Request, session: SessionDep, user: ComplaintsUser,
                       scope: CustomerScopeDep, customer_id: IdPath,
                       text: Annotated[str, Form()] = "",
                       reason_category: Annotated[str, Form()] = "",
                       defector_type: Annotated[str, Form()] = "") -> Response:
    scope.check(session=session, customer_id=customer_id)
    retention_service.record(session=session, customer_id=customer_id, text_=text,
                             occurred_at=None, reason_category=reason_category or None,
                             defector_type=defector_type or None, created_by_id=user.id)
    session.commit()
    flash(request, "Exit interview recorded.")
    return RedirectResponse(f"/customers/{customer_id}#section-exit-interview",
                            status_code=303)


__all__ = ["navigation", "router"]
