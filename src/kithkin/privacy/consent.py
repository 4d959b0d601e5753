"""The consent ledger: every grant, denial and withdrawal, and the state derived from it.

Each event is appended to ``consent_event`` and folded into the ``consent`` projection in
the same transaction, so the projection is never ahead of or behind its ledger. The
projection keeps the event that happened last (``occurred_at``, then recording order):
an import of last year's sign-up sheet does not overturn this morning's withdrawal.
A grant for an erased person's e-mail or phone lifts its suppression (see
:mod:`kithkin.privacy.suppression`): new consent is the one way back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, exists, insert, select, update
from sqlalchemy.orm import Session

from kithkin.customers.models import Channel, Consent, ConsentStatus, Customer, Purpose
from kithkin.database.base import utcnow
from kithkin.errors import NotFoundError, ValidationError
from kithkin.privacy.models import ConsentEvent, ConsentSource


@dataclass(frozen=True)
class ConsentChange:
    """One event to record; ``occurred_at`` defaults to now."""

    customer_id: int
    channel: str
    status: str
    source: str
    purpose: str = Purpose.MARKETING
    source_detail: str | None = None
    staff_user_id: int | None = None
    wording: str | None = None
    evidence: str | None = None
    occurred_at: datetime | None = None


_ALLOWED = {"channel": (Channel, frozenset(m.value for m in Channel)),
            "purpose": (Purpose, frozenset(m.value for m in Purpose)),
            "status": (ConsentStatus, frozenset(m.value for m in ConsentStatus))}
EVENTS: Table = ConsentEvent.__table__  # type: ignore[assignment]
CONSENTS: Table = Consent.__table__  # type: ignore[assignment]
Current = dict[tuple[int, str, str], tuple[int, datetime, str]]


def _check(change: ConsentChange) -> None:
    for field, value in (("channel", change.channel), ("purpose", change.purpose),
                         ("status", change.status)):
        enum, allowed = _ALLOWED[field]
        if value not in allowed:
            raise ValidationError(f"{field}: {value!r} is not one of "
                                  f"{', '.join(m.value for m in enum)}")
    if change.source not in ConsentSource.ALL:
        raise ValidationError(f"source: {change.source!r} is not one of "
                              f"{', '.join(ConsentSource.ALL)}")


def record(*, session: Session, change: ConsentChange) -> ConsentEvent:
    """Append one event and update the projection; returns the event.

    Raises NotFoundError for an unknown customer and ValidationError for an unknown
    channel, purpose, status or source, or for an erased customer (nobody is left behind
    that record to ask: new consent belongs on the person's new record).
    """
    customer = session.get(Customer, change.customer_id)
    if customer is None:
        raise NotFoundError(f"customer {change.customer_id} does not exist")
    if customer.erased_at is not None:
        raise ValidationError(f"customer {change.customer_id} was erased; record consent "
                              "on the person's new record")
    record_many(session=session, changes=[change])
    event = session.scalars(select(ConsentEvent).where(
        ConsentEvent.customer_id == change.customer_id).order_by(ConsentEvent.id.desc())
    ).first()
    assert event is not None
    return event


def record_many(*, session: Session, changes: Sequence[ConsentChange],
                skip_repeats: bool = False) -> int:
    """Append events in bulk and fold them into the projection; returns how many events
    were written.

    A person or form saying the same thing twice is two events. An import re-run is not:
    with ``skip_repeats`` an event is left out when the customer's current state already
    says it, or when the ledger holds the same statement made at the same time, so
    importing a file twice ends in the same ledger.
    """
    for change in changes:
        _check(change)
    current = _current(session, sorted({c.customer_id for c in changes}))
    if skip_repeats:
        changes = _new_only(session, changes, current)
    if not changes:
        return 0
    now = utcnow()
    rows = [{
        "customer_id": c.customer_id, "channel": c.channel, "purpose": c.purpose,
        "status": c.status, "source": c.source, "source_detail": c.source_detail,
        "staff_user_id": c.staff_user_id, "wording": c.wording, "evidence": c.evidence,
        "occurred_at": c.occurred_at or now, "recorded_at": now,
    } for c in changes]
    session.execute(insert(EVENTS), rows)  # Core: no ORM bookkeeping per event
    _project(session, rows, current)
    session.flush()
    return len(rows)


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _current(session: Session, ids: list[int]) -> Current:
    """The projection rows of ``ids``: (customer, channel, purpose) -> (id, since, status)."""
    current: Current = {}
    for start in range(0, len(ids), 400):
        for cid, channel, purpose, consent_id, updated_at, status in session.execute(select(
                Consent.customer_id, Consent.channel, Consent.purpose, Consent.id,
                Consent.updated_at, Consent.status).where(
                Consent.customer_id.in_(ids[start:start + 400]))):
            current[(cid, channel, purpose)] = (consent_id, updated_at, status)
    return current


def _new_only(session: Session, changes: Sequence[ConsentChange],
              current: Current) -> list[ConsentChange]:
    states = {key: value[2] for key, value in current.items()}
    said: set[tuple[int, str, str, str, str | None]] = set()
    dated = sorted({c.customer_id for c in changes if c.occurred_at is not None})
    for start in range(0, len(dated), 400):  # only dated statements can repeat a past one
        said.update((cid, channel, purpose, status, _moment(at)) for
                    cid, channel, purpose, status, at in session.execute(select(
                        ConsentEvent.customer_id, ConsentEvent.channel, ConsentEvent.purpose,
                        ConsentEvent.status, ConsentEvent.occurred_at)
                        .where(ConsentEvent.customer_id.in_(dated[start:start + 400]))))
    fresh = []
    for c in changes:
        key = (c.customer_id, c.channel, c.purpose)
        if states.get(key) == c.status:
            continue
        if c.occurred_at is not None and (*key, c.status, _moment(c.occurred_at)) in said:
            continue
        states[key] = c.status  # a file repeating itself row after row adds one event
        fresh.append(c)
    return fresh


def _project(session: Session, rows: list[dict[str, Any]], current: Current) -> None:
    latest: dict[tuple[int, str, str], dict[str, Any]] = {}
    for row in rows:  # file order breaks ties: the later row wins
        key = (row["customer_id"], row["channel"], row["purpose"])
        if key not in latest or row["occurred_at"] >= latest[key]["occurred_at"]:
            latest[key] = row
    inserts, updates = [], []
    for key, row in latest.items():
        values = {"status": row["status"], "source": row["source"],
                  "updated_at": row["occurred_at"]}
        if key not in current:
            inserts.append({"customer_id": key[0], "channel": key[1], "purpose": key[2],
                            **values})
        elif row["occurred_at"] >= current[key][1]:
            updates.append({"id": current[key][0], **values})
    if inserts:
        session.execute(insert(CONSENTS), inserts)
    if updates:
        session.execute(update(Consent), updates)
    granted = [row for row in latest.values() if row["status"] == ConsentStatus.GRANTED]
    if granted:
        from kithkin.privacy import suppression  # avoids an import cycle at load

        suppression.lift_for_customers(session=session,
                                       customer_ids=[row["customer_id"] for row in granted])


def history(*, session: Session, customer_id: int) -> list[ConsentEvent]:
    """Every event of a customer, newest first."""
    return list(session.scalars(select(ConsentEvent).where(
        ConsentEvent.customer_id == customer_id).order_by(
        ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc())))


def current(*, session: Session, customer_id: int) -> list[Consent]:
    """The projection rows of a customer, by channel and purpose."""
    return list(session.scalars(select(Consent).where(Consent.customer_id == customer_id)
                                .order_by(Consent.channel, Consent.purpose)))


def consent_granted(customer_id: Any, *, channel: str,
                    purpose: str = Purpose.MARKETING) -> ColumnElement[bool]:
    """A SQL condition, true where ``customer_id`` (a column) has granted ``channel`` for
    ``purpose``: list exports and the outbox add it to their own queries."""
    return exists().where(Consent.customer_id == customer_id, Consent.channel == channel,
                          Consent.purpose == purpose, Consent.status == ConsentStatus.GRANTED)


def consenting(*, session: Session, channel: str, purpose: str = Purpose.MARKETING,
               account_manager_id: int | None = None) -> list[int]:
    """Ids of the live customers (not merged, not erased) who granted ``channel`` for
    ``purpose``, ascending; only those of ``account_manager_id`` when given (an agent's
    book). Never asked is not consent."""
    _check(ConsentChange(customer_id=0, channel=channel, purpose=purpose,
                         status=ConsentStatus.GRANTED, source=ConsentSource.API))
    query = select(Customer.id).where(
        Customer.merged_into_id.is_(None), Customer.erased_at.is_(None),
        consent_granted(Customer.id, channel=channel, purpose=purpose))
    if account_manager_id is not None:
        query = query.where(Customer.account_manager_id == account_manager_id)
    return list(session.scalars(query.order_by(Customer.id)))
