"""Reading and editing a customer's preferences, and handing them to templates.

Before anyone edits them, the only preferences known may be an imported customer
attribute named ``preferences`` (text separated by ``;`` or a list): they are shown as
"imported" and still count for the relationship engine. The first edit creates the
first-class record, which wins from then on (even when it is emptied: staff cleared them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kithkin.customers.models import Channel, Customer
from kithkin.database.base import utcnow
from kithkin.database.core import get_or_raise
from kithkin.errors import ConflictError, ValidationError
from kithkin.preferences.models import CustomerPreference
from kithkin.preferences.schemas import (
    LISTS,
    MAX_ITEM_CHARS,
    PreferencesRead,
    PreferencesUpdate,
)

IMPORTED_KEY = "preferences"
CHANNELS = tuple(c.value for c in Channel)


def imported_items(attributes: dict[str, Any] | None) -> list[str]:
    """The items of an imported ``preferences`` attribute: the non-blank parts of
    ``;``-separated text, or a list's (object's) items (keys), as the engine counts them."""
    value = (attributes or {}).get(IMPORTED_KEY)
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    if isinstance(value, dict):
        return [str(key) for key in value]
    return []


def _read(customer: Customer, row: CustomerPreference | None) -> PreferencesRead:
    if row is not None:
        return PreferencesRead(
            customer_id=customer.id, source="edited", categories=row.categories or [],
            brands=row.brands or [], sizes=row.sizes or [], channels=row.channels or [],
            notes=row.notes, updated_at=row.updated_at, updated_by_id=row.updated_by_id)
    imported = imported_items(customer.attributes)
    return PreferencesRead(customer_id=customer.id,
                           source="imported" if imported else "none", imported=imported)


def get(*, session: Session, customer_id: int) -> PreferencesRead:
    customer = get_or_raise(session, Customer, customer_id, "customer")
    row = session.scalar(select(CustomerPreference)
                         .where(CustomerPreference.customer_id == customer_id))
    return _read(customer, row)


def _clean(name: str, items: Iterable[str]) -> list[str]:
    """Trimmed, blank-free, each once (first spelling kept, case-insensitively)."""
    seen: dict[str, str] = {}
    for position, item in enumerate(items, start=1):
        text = item.strip()
        if len(text) > MAX_ITEM_CHARS:
            raise ValidationError(f"{name}: item {position} is longer than "
                                  f"{MAX_ITEM_CHARS} characters")
        if name == "channels":
            text = text.lower()
            if text and text not in CHANNELS:
                raise ValidationError(f"channels: {text!r} is not one of "
                                      + ", ".join(CHANNELS))
        if text and text.casefold() not in seen:
            seen[text.casefold()] = text
    return list(seen.values())


def save(*, session: Session, customer_id: int, data: PreferencesUpdate,
         staff_user_id: int | None) -> PreferencesRead:
    """Replace the customer's preferences with ``data``. The customer's ``updated_at``
    moves too: the analytics snapshot re-reads customers when it changes, so the next
    refresh counts the edit."""
    customer = get_or_raise(session, Customer, customer_id, "customer")
    if customer.erased_at is not None:
        raise ConflictError(f"customer {customer_id} was erased on "
                            f"{customer.erased_at:%Y-%m-%d}")
    if customer.merged_into_id is not None:
        raise ConflictError(f"customer {customer_id} was merged into "
                            f"{customer.merged_into_id}: edit the survivor")
    values = {name: _clean(name, getattr(data, name)) for name in LISTS}
    notes = (data.notes or "").strip() or None
    row = session.scalar(select(CustomerPreference)
                         .where(CustomerPreference.customer_id == customer_id))
    if row is None:
        row = CustomerPreference(customer_id=customer_id)
        session.add(row)
    for name, items in values.items():
        setattr(row, name, items)
    row.notes, row.updated_by_id = notes, staff_user_id
    row.item_count = sum(len(items) for items in values.values()) + (1 if notes else 0)
    row.updated_at = customer.updated_at = utcnow()
    session.flush()
    return _read(customer, row)


def erase(*, session: Session, customer_id: int) -> None:
    """Forget the customer's preferences (right to erasure: notes are free text)."""
    session.execute(delete(CustomerPreference)
                    .where(CustomerPreference.customer_id == customer_id))


def _context(read: PreferencesRead) -> dict[str, Any]:
    return {"known": read.known, "source": read.source, "categories": read.categories,
            "brands": read.brands, "sizes": read.sizes, "channels": read.channels,
            "favourite_channel": read.channels[0] if read.channels else None,
            "notes": read.notes, "imported": read.imported}


def template_context(*, session: Session, customer_id: int) -> dict[str, Any]:
    """``{"preferences": {...}}`` for a message template or a recommendation: the
    lists, ``favourite_channel``, ``notes``, ``imported`` and ``known`` (False when
    nothing is remembered, so a template can leave the personal line out)."""
    return {"preferences": _context(get(session=session, customer_id=customer_id))}


def template_contexts(*, session: Session,
                      customer_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """:func:`template_context` for many customers in two queries (list sends)."""
    wanted = sorted(set(customer_ids))
    contexts: dict[int, dict[str, Any]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        customers = session.scalars(select(Customer).where(Customer.id.in_(chunk))).all()
        rows = {row.customer_id: row for row in session.scalars(
            select(CustomerPreference).where(CustomerPreference.customer_id.in_(chunk)))}
        for customer in customers:
            contexts[customer.id] = {
                "preferences": _context(_read(customer, rows.get(customer.id)))}
    return contexts
