"""Members' statements, redemptions, adjustments and price locks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kithkin.customers.models import Customer
from kithkin.database.core import get_or_raise
from kithkin.errors import ConflictError, ValidationError
from kithkin.loyalty import ledger
from kithkin.loyalty.models import EntryKind, LoyaltyEntry, PriceLock
from kithkin.loyalty.programme import PRICE_LOCK, Programme, Tier
from kithkin.products.models import Product
from kithkin.transactions.models import Transaction


@dataclass(frozen=True)
class Statement:
    customer_id: int
    balance: int
    tier: Tier
    window_spend: float
    next_tier: Tier | None
    entries: list[LoyaltyEntry]
    price_locks: list[PriceLock]


def balance(*, session: Session, customer_id: int) -> int:
    return ledger.balances(session, [customer_id])[customer_id]


def window_spend(*, session: Session, programme: Programme, customer_id: int,
                 as_of: date) -> float:
    """Net spend over the tier window (refunds count against it)."""
    end = datetime.combine(as_of + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    start = end - timedelta(days=programme.tiers.window_days)
    total = session.scalar(select(func.coalesce(func.sum(Transaction.amount), 0)).where(
        Transaction.customer_id == customer_id, Transaction.ordered_at >= start,
        Transaction.ordered_at < end))
    return float(total or 0)


def statement(*, session: Session, programme: Programme, customer_id: int,
              as_of: date | None = None, limit: int = 50) -> Statement:
    get_or_raise(session, Customer, customer_id, "customer")
    as_of = as_of or datetime.now(UTC).date()
    spend = window_spend(session=session, programme=programme, customer_id=customer_id,
                         as_of=as_of)
    tier = programme.tier_for(spend)
    higher = [t for t in programme.tiers.levels if t.threshold > tier.threshold]
    entries = list(session.scalars(
        select(LoyaltyEntry).where(LoyaltyEntry.customer_id == customer_id)
        .order_by(LoyaltyEntry.occurred_at.desc(), LoyaltyEntry.id.desc()).limit(limit)))
    locks = list(session.scalars(select(PriceLock).where(
        PriceLock.customer_id == customer_id, PriceLock.until >= datetime.now(UTC))))
    return Statement(customer_id=customer_id, balance=balance(
        session=session, customer_id=customer_id), tier=tier, window_spend=spend,
        next_tier=higher[0] if higher else None, entries=entries, price_locks=locks)


def _lock_customer(session: Session, customer_id: int) -> None:
    """Serialise deductions per customer: PostgreSQL row lock; SQLite has one writer."""
    get_or_raise(session, Customer, customer_id, "customer")
    session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())


def _deduct(*, session: Session, programme: Programme, customer_id: int, points: int,
            kind: EntryKind, key: str, reason: str | None,
            user_id: int | None) -> LoyaltyEntry:
    _lock_customer(session, customer_id)
    stored = session.scalar(select(LoyaltyEntry).where(LoyaltyEntry.source_key == key))
    if stored is not None:  # the same request again: answer with what it did
        return stored
    today = datetime.now(UTC).date()
    ledger.expire(session, programme, as_of=today, customer_ids=[customer_id])
    available = balance(session=session, customer_id=customer_id)
    if points > available:
        raise ValidationError(
            f"customer {customer_id} has {available} points; cannot take {points}: a "
            "balance never goes below zero")
    entry = LoyaltyEntry(customer_id=customer_id, kind=kind.value, points=-points,
                         source_key=key, occurred_at=datetime.now(UTC), reason=reason,
                         user_id=user_id)
    session.add(entry)
    session.flush()
    return entry


def redeem(*, session: Session, programme: Programme, customer_id: int, points: int,
           reason: str | None = None, user_id: int | None = None,
           request_key: str | None = None) -> LoyaltyEntry:
    """Spend points. ``request_key`` (the client's idempotency key) makes a retried
    request redeem once."""
    if points <= 0:
        raise ValidationError("points: redeem a positive number of points")
    return _deduct(session=session, programme=programme, customer_id=customer_id,
                   points=points, kind=EntryKind.REDEEM,
                   key=f"redeem:{request_key or uuid.uuid4().hex}", reason=reason,
                   user_id=user_id)


def adjust(*, session: Session, programme: Programme, customer_id: int, points: int,
           reason: str, user_id: int | None,
           request_key: str | None = None) -> LoyaltyEntry:
    """A staff correction, signed; the reason and the user (None: from the CLI, run by
    whoever holds the workspace) are kept with it."""
    if points == 0:
        raise ValidationError("points: an adjustment must change the balance")
    if not reason.strip():
        raise ValidationError("reason: say why the balance is adjusted")
    key = f"adjust:{request_key or uuid.uuid4().hex}"
    if points < 0:
        return _deduct(session=session, programme=programme, customer_id=customer_id,
                       points=-points, kind=EntryKind.ADJUST, key=key, reason=reason,
                       user_id=user_id)
    get_or_raise(session, Customer, customer_id, "customer")
    stored = session.scalar(select(LoyaltyEntry).where(LoyaltyEntry.source_key == key))
    if stored is not None:
        return stored
    entry = LoyaltyEntry(customer_id=customer_id, kind=EntryKind.ADJUST.value, points=points,
                         source_key=key, occurred_at=datetime.now(UTC), reason=reason,
                         user_id=user_id)
    session.add(entry)
    session.flush()
    return entry


def lock_price(*, session: Session, programme: Programme, customer_id: int, product_id: int,
               days: int, user_id: int | None, price: float | None = None) -> PriceLock:
    """Hold a product's price for a member whose tier includes the price-lock benefit."""
    tier = statement(session=session, programme=programme, customer_id=customer_id,
                     limit=0).tier
    if PRICE_LOCK not in tier.benefits:
        raise ConflictError(
            f"customer {customer_id} is in tier {tier.name!r}, which has no "
            f"{PRICE_LOCK!r} benefit")
    product = get_or_raise(session, Product, product_id, "product")
    held = price if price is not None else product.list_price
    if held is None:
        raise ValidationError(
            f"price: product {product_id} has no list price; give the price to lock")
    lock = PriceLock(customer_id=customer_id, product_id=product_id, price=held,
                     until=datetime.now(UTC) + timedelta(days=days), user_id=user_id)
    session.add(lock)
    session.flush()
    return lock
