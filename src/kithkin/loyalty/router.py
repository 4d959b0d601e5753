"""/customers/{id}/loyalty: members' statements, redemptions, adjustments, price locks."""

from __future__ import annotations

from fastapi import APIRouter, status

from kithkin.api.deps import CustomerScopeDep, SessionDep, SettingsDep
from kithkin.api.params import IdPath
from kithkin.api.permissions import CustomersAdmin, CustomersRead, CustomersWrite
from kithkin.loyalty import programme as loyalty_programme
from kithkin.loyalty import service as loyalty_service
from kithkin.loyalty.schemas import (
    AdjustmentCreate,
    EntryRead,
    PriceLockCreate,
    PriceLockRead,
    RedemptionCreate,
    StatementRead,
    TierRead,
)

router = APIRouter(prefix="/customers/{customer_id:int}/loyalty", tags=["loyalty"])


@router.get("", response_model=StatementRead)
def get_statement(customer_id: IdPath, session: SessionDep, settings: SettingsDep,
                  _: CustomersRead, scope: CustomerScopeDep) -> StatementRead:
    """Balance (the ledger's sum), tier over the rolling window, latest entries."""
    scope.check(session=session, customer_id=customer_id)
    found = loyalty_service.statement(
        session=session, programme=loyalty_programme.load(settings.home),
        customer_id=customer_id)
    return StatementRead(
        customer_id=found.customer_id, balance=found.balance,
        tier=TierRead.model_validate(found.tier), window_spend=found.window_spend,
        next_tier=TierRead.model_validate(found.next_tier) if found.next_tier else None,
        entries=[EntryRead.model_validate(e) for e in found.entries],
        price_locks=[PriceLockRead.model_validate(p) for p in found.price_locks])


@router.post("/redemptions", response_model=EntryRead, status_code=status.HTTP_201_CREATED)
def redeem(customer_id: IdPath, body: RedemptionCreate, session: SessionDep,
           settings: SettingsDep, user: CustomersWrite, scope: CustomerScopeDep) -> EntryRead:
    """Spend points; more than the balance is a 422 and nothing is written."""
    scope.check(session=session, customer_id=customer_id)
    entry = loyalty_service.redeem(
        session=session, programme=loyalty_programme.load(settings.home),
        customer_id=customer_id, points=body.points, reason=body.reason, user_id=user.id,
        request_key=body.request_key)
    return EntryRead.model_validate(entry)


@router.post("/adjustments", response_model=EntryRead, status_code=status.HTTP_201_CREATED)
def adjust(customer_id: IdPath, body: AdjustmentCreate, session: SessionDep,
           settings: SettingsDep, user: CustomersAdmin) -> EntryRead:
    """A manager's correction, kept in the ledger with its reason and author."""
    entry = loyalty_service.adjust(
        session=session, programme=loyalty_programme.load(settings.home),
        customer_id=customer_id, points=body.points, reason=body.reason, user_id=user.id,
        request_key=body.request_key)
    return EntryRead.model_validate(entry)


@router.post("/price-locks", response_model=PriceLockRead,
             status_code=status.HTTP_201_CREATED)
def lock_price(customer_id: IdPath, body: PriceLockCreate, session: SessionDep,
               settings: SettingsDep, user: CustomersWrite,
               scope: CustomerScopeDep) -> PriceLockRead:
    """Hold a product's price for a member whose tier has the price-lock benefit."""
    scope.check(session=session, customer_id=customer_id)
    lock = loyalty_service.lock_price(
        session=session, programme=loyalty_programme.load(settings.home),
        customer_id=customer_id, product_id=body.product_id, days=body.days,
        user_id=user.id, price=body.price)
    return PriceLockRead.model_validate(lock)
