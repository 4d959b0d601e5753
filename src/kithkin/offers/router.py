"""/customers/{id}/offers and /analytics/association-rules."""

from __future__ import annotations

from fastapi import APIRouter

from kithkin.api.deps import CustomerScopeDep, SessionDep
from kithkin.api.params import IdPath
from kithkin.api.permissions import AnalyticsRead, CustomersRead
from kithkin.offers import service as offer_service
from kithkin.offers.schemas import CustomerOffersRead, RuleRead

router = APIRouter(tags=["offers"])


@router.get("/customers/{customer_id:int}/offers", response_model=CustomerOffersRead)
def customer_offers(customer_id: IdPath, session: SessionDep, _: CustomersRead,
                    scope: CustomerScopeDep) -> CustomerOffersRead:
    """Next-best products and a bundle suggestion from the latest refresh."""
    scope.check(session=session, customer_id=customer_id)
    return CustomerOffersRead.model_validate(
        offer_service.for_customer(session=session, customer_id=customer_id))


@router.get("/analytics/association-rules", response_model=list[RuleRead])
def association_rules(session: SessionDep, _: AnalyticsRead, category: str | None = None,
                      limit: int = 100) -> list[RuleRead]:
    """Products bought together: the strongest rules per category (lift > 1)."""
    return [RuleRead.model_validate(r) for r in offer_service.rules(
        session=session, category=category, limit=max(1, min(limit, 1000)))]
