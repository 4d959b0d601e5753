"""Duplicate review: pending candidate pairs, a pair side by side with Splink's per-field
match weights, and the merge, reject and undo decisions (admin and manager)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from kithkin.api.deps import SessionDep
from kithkin.api.params import IdPath
from kithkin.config import settings_of
from kithkin.customers.models import Customer
from kithkin.dashboard.navigation import OPERATIONS, Page, register_page
from kithkin.dashboard.web import PageRoute, flash, render, require_page
from kithkin.errors import ConflictError, ValidationError
from kithkin.identity import service as identity_service
from kithkin.identity.models import CustomerMerge
from kithkin.users.models import StaffUser

DUPLICATES = register_page(Page("duplicates", "Duplicates", "/duplicates", OPERATIONS,
                                order=70))
PAGE_SIZE = 25
RECENT_MERGES = 20

router = APIRouter(prefix="/duplicates", route_class=PageRoute, include_in_schema=False)

ReviewUser = Annotated[StaffUser, Depends(require_page(DUPLICATES.key))]


def _names(session: SessionDep, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(Customer.id, Customer.first_name, Customer.last_name,
                                  Customer.email).where(Customer.id.in_(ids))).all()
    return {r.id: " ".join(p for p in (r.first_name, r.last_name) if p) or r.email
            or f"#{r.id}" for r in rows}


@router.get("")
def duplicates(request: Request, session: SessionDep, user: ReviewUser,
               after: str | None = None) -> Response:
    pairs, cursor = identity_service.list_page(session=session, limit=PAGE_SIZE, after=after)
    merges = list(session.execute(select(CustomerMerge).order_by(CustomerMerge.id.desc())
                                  .limit(RECENT_MERGES)).scalars())
    ids = {c.customer_id_l for c in pairs} | {c.customer_id_r for c in pairs}
    ids |= {m.survivor_id for m in merges} | {m.merged_id for m in merges}
    return render(request, "duplicates.html", user=user, active=DUPLICATES.key, pairs=pairs,
                  cursor=cursor, first_page=after is None, merges=merges,
                  names=_names(session, ids))


@router.get("/{candidate_id:int}")
def pair(request: Request, session: SessionDep, user: ReviewUser,
         candidate_id: IdPath) -> Response:
    candidate = identity_service.get_candidate(session=session, candidate_id=candidate_id)
    fields = identity_service.compare_fields(session=session, candidate=candidate)
    return render(request, "duplicate_pair.html", user=user, active=DUPLICATES.key,
                  candidate=candidate, fields=fields,
                  names=_names(session, {candidate.customer_id_l, candidate.customer_id_r}))


@router.post("/{candidate_id:int}/merge")
def merge(request: Request, session: SessionDep, user: ReviewUser, candidate_id: IdPath,
          survivor_id: Annotated[int, Form()]) -> Response:
    candidate = identity_service.get_candidate(session=session, candidate_id=candidate_id)
    pair_ids = (candidate.customer_id_l, candidate.customer_id_r)
    if survivor_id not in pair_ids:
        raise ValidationError(f"customer {survivor_id} is not part of pair {candidate_id}")
    merged_id = pair_ids[1] if survivor_id == pair_ids[0] else pair_ids[0]
    try:
        entry = identity_service.merge(session=session, settings=settings_of(request.app.state),
                                       survivor_id=survivor_id,
                                       merged_id=merged_id, actor=user.email,
                                       candidate_id=candidate_id)
    except ConflictError as exc:
        session.rollback()
        flash(request, f"Not merged: {exc}")
        return RedirectResponse(f"/duplicates/{candidate_id}", status_code=303)
    session.commit()
    flash(request, f"Customer {entry.merged_id} merged into customer {entry.survivor_id} "
                   f"(merge {entry.id}; it can be undone below).")
    return RedirectResponse("/duplicates", status_code=303)


@router.post("/{candidate_id:int}/reject")
def reject(request: Request, session: SessionDep, user: ReviewUser,
           candidate_id: IdPath) -> Response:
    try:
        identity_service.reject(session=session, candidate_id=candidate_id, actor=user.email)
    except ConflictError as exc:
        session.rollback()
        flash(request, f"Not rejected: {exc}")
        return RedirectResponse(f"/duplicates/{candidate_id}", status_code=303)
    session.commit()
    flash(request, f"Pair {candidate_id} marked as different customers.")
    return RedirectResponse("/duplicates", status_code=303)


@router.post("/merges/{merge_id:int}/undo")
def undo(request: Request, session: SessionDep, user: ReviewUser, merge_id: IdPath) -> Response:
    try:
        entry = identity_service.undo_merge(session=session, merge_id=merge_id,
                                            actor=user.email)
    except ConflictError as exc:
        session.rollback()
        flash(request, f"Not undone: {exc}")
        return RedirectResponse("/duplicates", status_code=303)
    session.commit()
    flash(request, f"Merge {entry.id} undone: customers {entry.survivor_id} and "
                   f"{entry.merged_id} are separate again.")
    return RedirectResponse("/duplicates", status_code=303)
