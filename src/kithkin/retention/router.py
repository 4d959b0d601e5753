"""/retention: exit interviews, the complaint lifecycle and the retention figures."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from kithkin.api.deps import CustomerScopeDep, SessionDep
from kithkin.api.params import DateQuery, IdPath
from kithkin.api.permissions import AnalyticsRead, InteractionsRead, InteractionsWrite
from kithkin.errors import NotFoundError
from kithkin.interactions.models import Interaction
from kithkin.retention import complaints, survival
from kithkin.retention import service as retention_service
from kithkin.retention.models import ExitInterview
from kithkin.retention.schemas import (
    ComplaintMove,
    ComplaintRead,
    ExitInterviewClassify,
    ExitInterviewCreate,
    ExitInterviewRead,
    SuggestionRead,
    SuggestRequest,
)

router = APIRouter(prefix="/retention", tags=["retention"])


def _resolve(session: Session, as_of: date | None) -> date:
    """The asked date, else the latest refresh (the data's own "now"), else today."""
    return as_of or survival.default_as_of(session, datetime.now(UTC).date())


@router.post("/exit-interviews", response_model=ExitInterviewRead, status_code=201)
def create_exit_interview(payload: ExitInterviewCreate, session: SessionDep,
                          user: InteractionsWrite, scope: CustomerScopeDep
                          ) -> ExitInterviewRead:
    """Record a former customer's words and (optionally) their classification; the
    classifier's suggestion is stored beside it."""
    scope.check(session=session, customer_id=payload.customer_id)
    row = retention_service.record(
        session=session, customer_id=payload.customer_id, text_=payload.text,
        occurred_at=payload.occurred_at, reason_category=payload.reason_category,
        defector_type=payload.defector_type, created_by_id=user.id, source="api",
        external_id=payload.external_id, channel=payload.channel)
    session.commit()
    return ExitInterviewRead.model_validate(row)


@router.get("/exit-interviews", response_model=list[ExitInterviewRead])
def list_exit_interviews(session: SessionDep, _: InteractionsRead, scope: CustomerScopeDep,
                         customer_id: int = Query(gt=0)) -> list[ExitInterviewRead]:
    scope.check(session=session, customer_id=customer_id)
    return [ExitInterviewRead.model_validate(r)
            for r in retention_service.for_customer(session, customer_id)]


@router.patch("/exit-interviews/{interview_id:int}", response_model=ExitInterviewRead)
def classify_exit_interview(interview_id: IdPath, payload: ExitInterviewClassify,
                            session: SessionDep, _: InteractionsWrite,
                            scope: CustomerScopeDep) -> ExitInterviewRead:
    row = session.get(ExitInterview, interview_id)
    if row is None:
        raise NotFoundError(f"exit interview {interview_id} does not exist")
    scope.check(session=session, customer_id=row.customer_id)
    row = retention_service.classify(session=session, interview_id=interview_id,
                                     reason_category=payload.reason_category,
                                     defector_type=payload.defector_type)
    session.commit()
    return ExitInterviewRead.model_validate(row)


@router.post("/exit-interviews/suggest", response_model=SuggestionRead)
def suggest(payload: SuggestRequest, session: SessionDep, _: InteractionsRead,
            scope: CustomerScopeDep) -> SuggestionRead:
    """What the classifier proposes for a text (nothing is stored)."""
    scope.check(session=session, customer_id=payload.customer_id)
    hint = retention_service.suggest(session, customer_id=payload.customer_id,
                                     text_=payload.text)
    return SuggestionRead(**dataclasses.asdict(hint))


def _complaint_read(row: Interaction) -> ComplaintRead:
    return ComplaintRead(id=row.id, customer_id=row.customer_id, occurred_at=row.occurred_at,
                         status=row.status, responded_at=row.responded_at,
                         resolved_at=row.resolved_at, owner_id=row.owner_id,
                         state=complaints.lifecycle_state(row))


@router.post("/complaints/{complaint_id:int}/{action}", response_model=ComplaintRead)
def move_complaint(complaint_id: IdPath, action: Literal["respond", "resolve"],
                   session: SessionDep, user: InteractionsWrite, scope: CustomerScopeDep,
                   payload: ComplaintMove | None = None) -> ComplaintRead:
    """Move a complaint along open → responded → resolved; the caller becomes its owner."""
    row = session.get(Interaction, complaint_id)
    scope.check(session=session, customer_id=row.customer_id if row else None)
    move = complaints.respond if action == "respond" else complaints.resolve
    row = move(session=session, complaint_id=complaint_id,
               at=payload.at if payload else None, owner_id=user.id)
    session.commit()
    return _complaint_read(row)


@router.get("/complaints/rates")
def complaint_rates(session: SessionDep, _: AnalyticsRead,
                    by: Literal["category", "product", "channel"] = "category",
                    as_of: DateQuery = None) -> dict[str, Any]:
    """Complaints per 1,000 orders by month and group."""
    return dataclasses.asdict(complaints.complaint_rates(
        session, as_of=_resolve(session, as_of), by=by))


@router.get("/complaints/times")
def complaint_times(session: SessionDep, _: AnalyticsRead,
                    as_of: DateQuery = None) -> dict[str, Any]:
    return dataclasses.asdict(complaints.service_times(session, as_of=_resolve(session, as_of)))


@router.get("/service-recovery")
def service_recovery(session: SessionDep, _: AnalyticsRead, as_of: DateQuery = None,
                     horizon_days: int = Query(180, gt=0)) -> dict[str, Any]:
    point, groups = complaints.service_recovery(session, as_of=_resolve(session, as_of),
                                                horizon_days=horizon_days)
    return {"point": point, "groups": [dataclasses.asdict(g) for g in groups]}


@router.get("/survival")
def survival_curves(session: SessionDep, _: AnalyticsRead, as_of: DateQuery = None,
                    by: Literal["all", "cohort_year", "stage", "bond_count", "level"] = "all",
                    lapse_days: int = Query(survival.DEFAULT_LAPSE_DAYS, gt=0)
                    ) -> dict[str, Any]:
    """Kaplan-Meier curves with 95% bands (log(-log)), from the metric history."""
    frame = survival.lifetimes(session, as_of=_resolve(session, as_of), lapse_days=lapse_days)
    curves = survival.curves_by(frame, None if by == "all" else by)
    return {"metrics_as_of": frame.attrs["metrics_as_of"],
            "curves": [dataclasses.asdict(c) for c in curves]}


@router.get("/cox")
def cox_model(session: SessionDep, _: AnalyticsRead, as_of: DateQuery = None,
              lapse_days: int = Query(survival.DEFAULT_LAPSE_DAYS, gt=0)) -> dict[str, Any]:
    """Hazard ratios of lapsing for bonds, health and level, with 95% intervals."""
    frame = survival.lifetimes(session, as_of=_resolve(session, as_of), lapse_days=lapse_days)
    return dataclasses.asdict(survival.cox(frame))
