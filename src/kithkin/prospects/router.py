"""/prospects: leads and other strangers with no transaction yet."""

from __future__ import annotations

from fastapi import APIRouter

from kithkin.api.deps import SessionDep
from kithkin.api.pagination import DEFAULT_LIMIT, Page
from kithkin.api.params import AfterQuery, IdPath, LimitQuery
from kithkin.api.permissions import ProspectsRead
from kithkin.prospects import service as prospect_service
from kithkin.prospects.schemas import ProspectRead

router = APIRouter(prefix="/prospects", tags=["prospects"])


@router.get("", response_model=Page[ProspectRead])
def list_prospects(session: SessionDep, _: ProspectsRead, limit: LimitQuery = DEFAULT_LIMIT,
                   after: AfterQuery = None, q: str | None = None, status: str | None = None,
                   origin: str | None = None) -> Page[ProspectRead]:
    rows, cursor = prospect_service.list_page(session=session, limit=limit, after=after, q=q,
                                              status=status, origin=origin)
    return Page[ProspectRead](items=[ProspectRead.model_validate(r) for r in rows],
                              next_cursor=cursor, limit=limit)


@router.get("/{prospect_id:int}", response_model=ProspectRead)
def get_prospect(prospect_id: IdPath, session: SessionDep, _: ProspectsRead) -> ProspectRead:
    return ProspectRead.model_validate(prospect_service.get(session=session,
                                                            prospect_id=prospect_id))
