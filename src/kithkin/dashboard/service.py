"""Read models of the customer 360 page: profile, and the timeline with keyset pages.

The customer list and its search are the customers domain's
(:mod:`kithkin.customers.listing`, :mod:`kithkin.customers.search`), shared with the
REST API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from kithkin.analytics import service as metrics_service
from kithkin.analytics.models import CustomerMetric
from kithkin.customers import reference as customer_reference
from kithkin.customers.models import Consent, Customer, CustomerIdentifier, Purpose
from kithkin.database.core import get_or_raise
from kithkin.database.pagination import decode_values, encode_values
from kithkin.errors import ValidationError
from kithkin.interactions.models import Interaction
from kithkin.memberships.models import Membership
from kithkin.transactions.models import Transaction
from kithkin.users.models import StaffUser


def _decode(cursor: str, size: int) -> list[Any]:
    values = decode_values(cursor, field="cursor")
    if len(values) != size:
        raise ValidationError("cursor: not a cursor this listing returned")
    return values


# --- customer 360 -----------------------------------------------------------------------

TIMELINE_PAGE = 25
# Ties on the timestamp are broken by kind rank then id, so the cursor is exact.
_RANK = {"transaction": 2, "interaction": 1}


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    at: datetime
    id: int
    title: str
    detail: str
    amount: float | None = None


@dataclass(frozen=True)
class Timeline:
    entries: Sequence[TimelineEntry]
    next_cursor: str | None


@dataclass(frozen=True)
class CustomerView:
    """Everything the 360 page shows that the store itself holds."""

    customer: Customer
    identifiers: Sequence[CustomerIdentifier]
    consents: dict[str, Consent]
    memberships: Sequence[Membership]
    metrics: CustomerMetric | None
    merged_into: Customer | None
    account_manager: StaffUser | None
    label: str = ""  # the name, else company, email or an external id


def customer_view(*, session: Session, customer_id: int) -> CustomerView:
    customer = get_or_raise(session, Customer, customer_id, "customer")
    identifiers = session.scalars(
        select(CustomerIdentifier).where(CustomerIdentifier.customer_id == customer_id)
        .order_by(CustomerIdentifier.source, CustomerIdentifier.external_id)
    ).all()
    consents = {c.channel: c for c in session.scalars(  # marketing: the 360's summary
        select(Consent).where(Consent.customer_id == customer_id,
                              Consent.purpose == Purpose.MARKETING))}
    memberships = session.scalars(
        select(Membership).where(Membership.customer_id == customer_id)
        .order_by(Membership.started_at.desc())
    ).all()
    return CustomerView(
        customer=customer, identifiers=identifiers, consents=consents,
        memberships=memberships,
        metrics=metrics_service.for_customer(session=session, customer_id=customer_id),
        merged_into=(session.get(Customer, customer.merged_into_id)
                     if customer.merged_into_id else None),
        account_manager=(session.get(StaffUser, customer.account_manager_id)
                         if customer.account_manager_id else None),
        label=customer_reference.label(customer, list(identifiers)),
    )


def _before(column_at: Any, column_id: Any, kind: str,
            cursor: list[Any] | None) -> list[ColumnElement[bool]]:
    if cursor is None:
        return []
    at, rank, last_id = datetime.fromisoformat(cursor[0]), int(cursor[1]), int(cursor[2])
    own = _RANK[kind]
    if own < rank:
        return [column_at <= at]
    if own > rank:
        return [column_at < at]
    return [or_(column_at < at, and_(column_at == at, column_id < last_id))]


def timeline(*, session: Session, customer_id: int, cursor: str | None = None,
             limit: int = TIMELINE_PAGE) -> Timeline:
    """Transactions and interactions, newest first, one keyset page at a time."""
    after = _decode(cursor, 3) if cursor else None
    orders = session.scalars(
        select(Transaction).where(Transaction.customer_id == customer_id,
                                  *_before(Transaction.ordered_at, Transaction.id,
                                           "transaction", after))
        .order_by(Transaction.ordered_at.desc(), Transaction.id.desc()).limit(limit + 1)
    ).all()
    touches = session.scalars(
        select(Interaction).where(Interaction.customer_id == customer_id,
                                  *_before(Interaction.occurred_at, Interaction.id,
                                           "interaction", after))
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc()).limit(limit + 1)
    ).all()
    entries = [_order_entry(t) for t in orders] + [_touch_entry(i) for i in touches]
    entries.sort(key=lambda e: (e.at, _RANK[e.kind], e.id), reverse=True)
    shown = entries[:limit]
    next_cursor = None
    if len(entries) > limit:
        last = shown[-1]
        next_cursor = encode_values([last.at, _RANK[last.kind], last.id])
    return Timeline(entries=shown, next_cursor=next_cursor)


def _order_entry(order: Transaction) -> TimelineEntry:
    units = (f"{order.quantity:g} unit{'' if order.quantity == 1 else 's'}"
             if order.quantity is not None else None)
    parts = [p for p in (units, order.channel, order.source) if p]
    return TimelineEntry(kind="transaction", at=order.ordered_at, id=order.id,
                         title=f"Order {order.order_id}", detail=" · ".join(parts),
                         amount=order.amount)


def _touch_entry(touch: Interaction) -> TimelineEntry:
    title = touch.kind.replace("_", " ").capitalize()
    parts = [touch.direction, touch.channel or "", touch.subject or ""]
    if touch.score is not None:
        parts.append(f"score {touch.score:g}" + (f" ({touch.score_scale})"
                                                if touch.score_scale else ""))
    if touch.status:
        parts.append(touch.status.replace("_", " "))
    if touch.tags:
        parts.append(" ".join(f"#{tag}" for tag in touch.tags))
    if touch.text:
        parts.append(touch.text if len(touch.text) <= 160 else touch.text[:159] + "…")
    return TimelineEntry(kind="interaction", at=touch.occurred_at, id=touch.id, title=title,
                         detail=" · ".join(p for p in parts if p))


def order_history(*, session: Session, customer_id: int,
                  limit: int = 200) -> list[tuple[datetime, float]]:
    """The customer's latest ``limit`` orders as (time, amount), oldest first, for a chart."""
    rows = session.execute(
        select(Transaction.ordered_at, Transaction.amount)
        .where(Transaction.customer_id == customer_id)
        .order_by(Transaction.ordered_at.desc()).limit(limit)
    ).all()
    return [(at, float(amount)) for at, amount in reversed(rows)]
