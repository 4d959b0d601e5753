"""May this customer be sent a message of this purpose on this channel?

The one place the outbox reads consent: the ``consent`` table is the consent ledger's
current state per channel and purpose (:mod:`kithkin.privacy.consent`), so a message is
judged by what the customer said about its own purpose on its own channel.

The rule is one SQL expression over the customer and their consent row: a message
queued alone (:func:`skip_reason` for one customer) and a million queued at once
(:mod:`kithkin.outbox.bulk`, in one statement) are judged by the same text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from kithkin.customers.models import Consent, ConsentStatus, Customer

# The channel whose consent row governs each message channel: an SMS needs SMS consent;
# a webhook message is a notification the firm's own system relays (treated as e-mail).
CONSENT_CHANNEL = {"email": "email", "sms": "sms", "webhook": "email"}
# What a message of each channel is sent to (skipped as "no <this>" without it).
ADDRESS = {"email": "e-mail address", "sms": "phone number", "webhook": "e-mail address"}


def consent_of(channel: str, purpose: str) -> ColumnElement[bool]:
    """The ON clause of ``customer LEFT JOIN consent``: the row that governs a message."""
    return and_(Consent.customer_id == Customer.id,
                Consent.channel == CONSENT_CHANNEL.get(channel, channel),
                Consent.purpose == purpose)


def recipient(channel: str) -> ColumnElement[Any]:
    """The customer's address for the channel (an SMS goes to the E.164 form first)."""
    if channel == "sms":
        return func.coalesce(func.nullif(Customer.phone_e164, ""), Customer.phone)
    return Customer.email.expression


def consent_reason(channel: str, purpose: str, *, address: bool = False
                   ) -> ColumnElement[str | None]:
    """Why the message must not be sent, NULL when it may be: over ``customer`` and its
    :func:`consent_of` row (outer-joined).

    Erased customers are always skipped. For the message's channel and purpose, a
    ``granted`` state allows; ``denied`` and ``opted_out`` skip. Never asked: marketing
    and profiling need consent, so they are skipped as "no consent"; a service message
    (an answer the customer is waiting for) is allowed. ``address``: a message that
    may be sent also needs the channel's address (checked when it is queued)."""
    to = recipient(channel)
    allowed: Any = case((or_(to.is_(None), to == ""), f"no {ADDRESS[channel]}"),
                        else_=None) if address else None
    return case(
        (Customer.erased_at.is_not(None), "customer erased"),
        (Consent.status == ConsentStatus.OPTED_OUT.value, "opted out"),
        (Consent.status == ConsentStatus.DENIED.value, "consent denied"),
        (Consent.status == ConsentStatus.GRANTED.value, allowed),
        else_=allowed if purpose == "service" else "no consent")


def _judged(session: Session, customer: Customer, channel: str, purpose: str,
            address: bool) -> tuple[str | None, str | None]:
    found = session.execute(
        select(recipient(channel), consent_reason(channel, purpose, address=address))
        .select_from(Customer).outerjoin(Consent, consent_of(channel, purpose))
        .where(Customer.id == customer.id)).one()
    return found[0], found[1]


def skip_reason(*, session: Session, customer: Customer | None, channel: str,
                purpose: str) -> str | None:
    """:func:`consent_reason` for one customer ("no customer" without one)."""
    if customer is None:
        return "no customer"
    return _judged(session, customer, channel, purpose, address=False)[1]


def queue_check(*, session: Session, customer: Customer | None, channel: str,
                purpose: str) -> tuple[str | None, str | None]:
    """A message about to be queued: its recipient and why it must be skipped (consent
    and the address: :func:`consent_reason`), or None."""
    if customer is None:
        return None, "no customer"
    return _judged(session, customer, channel, purpose, address=True)
