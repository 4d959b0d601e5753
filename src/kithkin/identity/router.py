"""/identity: the duplicates review queue of identity resolution, merges and their undo."""

from __future__ import annotations

from fastapi import APIRouter

from kithkin.api.deps import CustomerScopeDep, SessionDep, SettingsDep
from kithkin.api.pagination import DEFAULT_LIMIT, Page
from kithkin.api.params import AfterQuery, IdPath, LimitQuery
from kithkin.api.permissions import CustomersAdmin, CustomersRead
from kithkin.identity import service as identity_service
from kithkin.identity.models import CandidateStatus
from kithkin.identity.schemas import (
    CandidateDetail,
    CandidateRead,
    FieldComparison,
    MergeRead,
    MergeRequest,
)

router = APIRouter(prefix="/identity", tags=["identity"])


@router.get("/duplicates", response_model=Page[CandidateRead])
def list_duplicates(session: SessionDep, _: CustomersRead, scope: CustomerScopeDep,
                    limit: LimitQuery = DEFAULT_LIMIT, after: AfterQuery = None,
                    status: CandidateStatus | None = CandidateStatus.PENDING,
                    ) -> Page[CandidateRead]:
    scope.require_all("the duplicate review queue")
    rows, cursor = identity_service.list_page(session=session, limit=limit, after=after,
                                              status=status)
    return Page[CandidateRead](items=[CandidateRead.model_validate(r) for r in rows],
                               next_cursor=cursor, limit=limit)


@router.post("/merges", response_model=MergeRead)
def merge_customers(payload: MergeRequest, session: SessionDep, settings: SettingsDep,
                    user: CustomersAdmin) -> MergeRead:
    """Merge any two customers (the survivor keeps its id and receives the history)."""
    entry = identity_service.merge(session=session, settings=settings,
                                   survivor_id=payload.survivor_id,
                                   merged_id=payload.merged_id, actor=user.email,
                                   reason=payload.reason)
    session.commit()
    return MergeRead.of(entry)


@router.get("/merges/{merge_id:int}", response_model=MergeRead)
def get_merge(merge_id: IdPath, session: SessionDep, _: CustomersRead,
              scope: CustomerScopeDep) -> MergeRead:
    scope.require_all("the merge log")
    return MergeRead.of(identity_service.get_merge(session=session, merge_id=merge_id))


@router.post("/merges/{merge_id:int}/undo", response_model=MergeRead)
def undo_merge(merge_id: IdPath, session: SessionDep, user: CustomersAdmin) -> MergeRead:
    """Restore both customers exactly as before the merge (409 if a later change blocks)."""
    entry = identity_service.undo_merge(session=session, merge_id=merge_id, actor=user.email)
    session.commit()
    return MergeRead.of(entry)


@router.get("/duplicates/{candidate_id:int}", response_model=CandidateDetail)
def get_duplicate(candidate_id: IdPath, session: SessionDep, _: CustomersRead,
                  scope: CustomerScopeDep) -> CandidateDetail:
    """The pair side by side, with each field's agreement level and match weight."""
    scope.require_all("the duplicate review queue")
    candidate = identity_service.get_candidate(session=session, candidate_id=candidate_id)
    fields = identity_service.compare_fields(session=session, candidate=candidate)
    return CandidateDetail.model_validate({
        **CandidateRead.model_validate(candidate).model_dump(),
        "fields": [FieldComparison.model_validate(f) for f in fields],
        "weights": candidate.weights,
    })


@router.post("/duplicates/{candidate_id:int}/merge", response_model=MergeRead)
def merge_duplicate(candidate_id: IdPath, session: SessionDep, settings: SettingsDep,
                    user: CustomersAdmin) -> MergeRead:
    entry = identity_service.merge_candidate(session=session, settings=settings,
                                             candidate_id=candidate_id, actor=user.email)
    session.commit()
    return MergeRead.of(entry)


@router.post("/duplicates/{candidate_id:int}/reject", response_model=CandidateRead)
def reject_duplicate(candidate_id: IdPath, session: SessionDep,
                     user: CustomersAdmin) -> CandidateRead:
    candidate = identity_service.reject(session=session, candidate_id=candidate_id,
                                        actor=user.email)
    session.commit()
    return CandidateRead.model_validate(candidate)
