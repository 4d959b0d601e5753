"""/customers/{id}/links and /referrals: bonds among customers."""

from __future__ import annotations

from fastapi import APIRouter, status

from kithkin.api.deps import CustomerScopeDep, SessionDep
from kithkin.api.params import IdPath
from kithkin.api.permissions import CustomersRead, CustomersWrite
from kithkin.connections import service as link_service
from kithkin.connections.schemas import LinkCreate, LinkRead, ReferralTreeRead, ReferrerRead

router = APIRouter(tags=["connections"])


@router.get("/customers/{customer_id:int}/links", response_model=list[LinkRead])
def list_links(customer_id: IdPath, session: SessionDep, _: CustomersRead,
               scope: CustomerScopeDep) -> list[LinkRead]:
    scope.check(session=session, customer_id=customer_id)
    return [LinkRead.model_validate(link)
            for link in link_service.links_of(session=session, customer_id=customer_id)]


@router.post("/customers/{customer_id:int}/links", response_model=LinkRead,
             status_code=status.HTTP_201_CREATED)
def add_link(customer_id: IdPath, body: LinkCreate, session: SessionDep,
             user: CustomersWrite, scope: CustomerScopeDep) -> LinkRead:
    """Link this customer to another; a referral also counts as the referrer's
    ``referral`` interaction in the next refresh."""
    scope.check(session=session, customer_id=customer_id)
    link = link_service.link(session=session, from_customer_id=customer_id,
                             to_customer_id=body.other_customer_id, kind=body.kind,
                             role=body.role, source="api", created_by_id=user.id)
    return LinkRead.model_validate(link)


@router.delete("/customers/{customer_id:int}/links/{link_id:int}",
               status_code=status.HTTP_204_NO_CONTENT)
def remove_link(customer_id: IdPath, link_id: IdPath, session: SessionDep,
                _: CustomersWrite, scope: CustomerScopeDep) -> None:
    scope.check(session=session, customer_id=customer_id)
    link_service.unlink(session=session, customer_id=customer_id, link_id=link_id)


@router.get("/customers/{customer_id:int}/referrals", response_model=ReferralTreeRead)
def referral_tree(customer_id: IdPath, session: SessionDep, _: CustomersRead,
                  scope: CustomerScopeDep, depth: int = 3) -> ReferralTreeRead:
    scope.check(session=session, customer_id=customer_id)
    tree = link_service.referral_tree(session=session, customer_id=customer_id,
                                      depth=max(1, depth))
    return ReferralTreeRead(root=tree.root, referred_by=tree.referred_by, depth=tree.depth,
                            size=tree.size, edges=tree.edges)


@router.get("/referrals/top", response_model=list[ReferrerRead])
def top_referrers(session: SessionDep, _: CustomersRead, scope: CustomerScopeDep,
                  limit: int = 20) -> list[ReferrerRead]:
    scope.require_all("the referral ranking")
    return [ReferrerRead(customer_id=c, referred=n) for c, n in
            link_service.top_referrers(session=session, limit=max(1, min(limit, 200)))]
