"""May this customer be sent a message of this purpose on this channel?

The one place the outbox reads consent: the ``consent`` table is the consent ledger's
current state per channel and purpose (:mod:`kithkin.privacy.consent`), so a message is
judged by what the customer said about its own purpose on its own channel.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kithkin.customers.models import Consent, ConsentStatus, Customer

# The channel whose consent row governs each message channel: an SMS needs SMS consent;
# a webhook message is a notification the firm's own system relays (treated as e-mail).
CONSENT_CHANNEL = {"email": "email", "sms": "sms", "webhook": "email"}


def skip_reason(*, session: Session, customer: Customer | None, channel: str,
                purpose: str) -> str | None:
    """Why the message must not be sent, or None when it may be.

    Erased customers are always skipped. For the message's channel and purpose, a
    ``granted`` state allows; ``denied`` and ``opted_out`` skip. Never asked: marketing
    and profiling need consent, so they are skipped as "no consent"; a service message
    (an answer the customer is waiting for) is allowed.
    """
    if customer is None:
        return "no customer"
    if customer.erased_at is not None:
        return "customer erased"
    status = session.scalar(select(Consent.status).where(
        Consent.customer_id == customer.id,
        Consent.channel == CONSENT_CHANNEL.get(channel, channel),
        Consent.purpose == purpose))
    if status == ConsentStatus.OPTED_OUT:
        return "opted out"
    if status == ConsentStatus.DENIED:
        return "consent denied"
    if status == ConsentStatus.GRANTED:
        return None
    return None if purpose == "service" else "no consent"
