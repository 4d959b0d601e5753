"""/interactions: every touch with a customer; staff log new ones here."""

from __future__ import annotations

from fastapi import APIRouter

from kithkin.api.deps import CustomerScopeDep, SessionDep
from kithkin.api.pagination import DEFAULT_LIMIT, Page
from kithkin.api.params import AfterQuery, IdPath, IdQuery, LimitQuery
from kithkin.api.permissions import InteractionsRead, InteractionsWrite
from kithkin.interactions import service as interaction_service
from kithkin.interactions.schemas import InteractionCreate, InteractionRead

router = APIRouter(prefix="/interactions", tags=["interactions"])


@router.get("", response_model=Page[InteractionRead])
def list_interactions(session: SessionDep, _: InteractionsRead, scope: CustomerScopeDep,
                      limit: LimitQuery = DEFAULT_LIMIT, after: AfterQuery = None,
                      customer_id: IdQuery = None,
                      kind: str | None = None) -> Page[InteractionRead]:
    rows, cursor = interaction_service.list_page(session=session, limit=limit, after=after,
                                                 customer_id=customer_id, kind=kind,
                                                 scope=scope)
    return Page[InteractionRead](items=[InteractionRead.model_validate(r) for r in rows],
                                 next_cursor=cursor, limit=limit)


@router.get("/{interaction_id:int}", response_model=InteractionRead)
def get_interaction(interaction_id: IdPath, session: SessionDep, _: InteractionsRead,
                    scope: CustomerScopeDep) -> InteractionRead:
    return InteractionRead.model_validate(
        interaction_service.get(session=session, interaction_id=interaction_id, scope=scope))


@router.post("", response_model=InteractionRead, status_code=201)
def log_interaction(payload: InteractionCreate, session: SessionDep,
                    user: InteractionsWrite, scope: CustomerScopeDep) -> InteractionRead:
    """Log a touch (call, meeting, complaint...) against a customer, as the caller."""
    scope.check(session=session, customer_id=payload.customer_id)
    interaction = interaction_service.log(session=session, data=payload,
                                          staff_user_id=user.id)
    session.commit()
    return InteractionRead.model_validate(interaction)
