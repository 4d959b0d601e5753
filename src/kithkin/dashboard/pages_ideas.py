"""Ideas (co-creation): top ideas by votes and by the value of the customers behind them,
an idea with its comments and public replies, and the staff's status moves."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from kithkin.api.deps import CustomerScopeDep, SessionDep
from kithkin.api.params import IdPath
from kithkin.customers import reference as reference_service
from kithkin.customers.models import Customer
from kithkin.dashboard.navigation import EVERYONE, OPERATIONS, Page, register_page
from kithkin.dashboard.web import PageRoute, flash, render, require_page
from kithkin.errors import KithkinError, PermissionDeniedError
from kithkin.ideas import service as idea_service
from kithkin.ideas.models import IdeaStatus
from kithkin.users.models import StaffUser

IDEAS = register_page(Page("ideas", "Ideas", "/ideas", EVERYONE, order=65))
router = APIRouter(prefix="/ideas", route_class=PageRoute, include_in_schema=False)
IdeasUser = Annotated[StaffUser, Depends(require_page(IDEAS.key))]


def _names(session: SessionDep, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    return {c.id: c.display_name for c in session.scalars(
        select(Customer).where(Customer.id.in_(wanted)))}


@router.get("")
def ideas(request: Request, session: SessionDep, user: IdeasUser, scope: CustomerScopeDep,
          by: idea_service.Ranking = "votes", status: str | None = None) -> Response:
    ranked = idea_service.ranked(session=session, by=by, status=status or None, scope=scope)
    return render(request, "ideas.html", user=user, active=IDEAS.key, ranked=ranked, by=by,
                  status=status or "", statuses=list(IdeaStatus),
                  names=_names(session, {r.idea.customer_id for r in ranked}),
                  value_known=any(r.value is not None for r in ranked))


def _customer(session: SessionDep, scope: CustomerScopeDep, text: str) -> int | None:
    if not text.strip():
        return None
    customer = reference_service.resolve(session=session, reference=text.strip())
    scope.check(session=session, customer_id=customer.id)
    return customer.id


@router.post("")
def submit(request: Request, session: SessionDep, user: IdeasUser, scope: CustomerScopeDep,
           title: Annotated[str, Form()], body: Annotated[str, Form()],
           customer: Annotated[str, Form()] = "") -> Response:
    try:
        idea = idea_service.submit(session=session, title=title, body=body,
                                   customer_id=_customer(session, scope, customer),
                                   submitted_by_id=user.id)
    except KithkinError as exc:
        session.rollback()
        flash(request, f"Not submitted: {exc}")
        return RedirectResponse("/ideas", status_code=303)
    session.commit()
    flash(request, f"Idea #{idea.id} submitted.")
    return RedirectResponse(f"/ideas/{idea.id}", status_code=303)


@router.get("/{idea_id:int}")
def idea(request: Request, session: SessionDep, user: IdeasUser, idea_id: IdPath) -> Response:
    found, votes, comments, changes = idea_service.detail(session=session, idea_id=idea_id)
    return render(request, "idea.html", user=user, active=IDEAS.key, idea=found, votes=votes,
                  comments=comments, changes=changes,
                  moves=sorted(idea_service.MOVES[IdeaStatus(found.status)]),
                  can_review=user.role in OPERATIONS,
                  names=_names(session, {found.customer_id}
                               | {c.customer_id for c in comments}))


@router.post("/{idea_id:int}/votes")
def vote(request: Request, session: SessionDep, user: IdeasUser, scope: CustomerScopeDep,
         idea_id: IdPath, customer: Annotated[str, Form()]) -> Response:
    try:
        customer_id = _customer(session, scope, customer)
        if customer_id is None:
            raise PermissionDeniedError("a vote is a customer's: name the customer")
        counted = idea_service.vote(session=session, idea_id=idea_id, customer_id=customer_id)
    except KithkinError as exc:
        session.rollback()
        flash(request, f"Not counted: {exc}")
        return RedirectResponse(f"/ideas/{idea_id}", status_code=303)
    session.commit()
    flash(request, "Vote counted." if counted else "That customer had already voted.")
    return RedirectResponse(f"/ideas/{idea_id}", status_code=303)


@router.post("/{idea_id:int}/comments")
def comment(request: Request, session: SessionDep, user: IdeasUser, idea_id: IdPath,
            body: Annotated[str, Form()]) -> Response:
    try:
        idea_service.comment(session=session, idea_id=idea_id, body=body, user_id=user.id)
    except KithkinError as exc:
        session.rollback()
        flash(request, f"Not added: {exc}")
        return RedirectResponse(f"/ideas/{idea_id}", status_code=303)
    session.commit()
    return RedirectResponse(f"/ideas/{idea_id}", status_code=303)


@router.post("/{idea_id:int}/status")
def move(request: Request, session: SessionDep, user: IdeasUser, idea_id: IdPath,
         status: Annotated[IdeaStatus, Form()],
         public_reply: Annotated[str, Form()] = "") -> Response:
    if user.role not in OPERATIONS:
        raise PermissionDeniedError("only managers and admins answer ideas in public")
    try:
        idea_service.move(session=session, idea_id=idea_id, to_status=status,
                          public_reply=public_reply, user_id=user.id)
    except KithkinError as exc:
        session.rollback()
        flash(request, f"Not moved: {exc}")
        return RedirectResponse(f"/ideas/{idea_id}", status_code=303)
    session.commit()
    flash(request, f"Idea moved to {status.value.replace('_', ' ')}; the submitter is told.")
    return RedirectResponse(f"/ideas/{idea_id}", status_code=303)
