"""/memberships: loyalty programmes, subscriptions and contracts."""

from __future__ import annotations

from fastapi import APIRouter

from kithkin.api.deps import CustomerScopeDep, SessionDep
from kithkin.api.pagination import DEFAULT_LIMIT, Page
from kithkin.api.params import AfterQuery, IdPath, IdQuery, LimitQuery
from kithkin.api.permissions import MembershipsRead
from kithkin.memberships import service as membership_service
from kithkin.memberships.schemas import MembershipRead

router = APIRouter(prefix="/memberships", tags=["memberships"])


@router.get("", response_model=Page[MembershipRead])
def list_memberships(session: SessionDep, _: MembershipsRead, scope: CustomerScopeDep,
                     limit: LimitQuery = DEFAULT_LIMIT, after: AfterQuery = None,
                     customer_id: IdQuery = None,
                     kind: str | None = None) -> Page[MembershipRead]:
    rows, cursor = membership_service.list_page(session=session, limit=limit, after=after,
                                                customer_id=customer_id, kind=kind,
                                                scope=scope)
    return Page[MembershipRead](items=[MembershipRead.model_validate(r) for r in rows],
                                next_cursor=cursor, limit=limit)


@router.get("/{membership_id:int}", response_model=MembershipRead)
def get_membership(membership_id: IdPath, session: SessionDep, _: MembershipsRead,
                   scope: CustomerScopeDep) -> MembershipRead:
    return MembershipRead.model_validate(
        membership_service.get(session=session, membership_id=membership_id, scope=scope))
