"""The suppression list: keyed digests of erased e-mails, phones and source ids.

Erasure must hold against the next import of the same source file, yet keeping the
erased address to compare against would defeat the erasure. So only HMAC-SHA256 digests,
keyed with the server secret (:func:`kithkin.auth.secret.signing_secret`), are stored:
without the secret nobody can test a guessed address against the list. Rotating the
secret therefore empties the list in effect; docs/privacy.md says so.

Digests are taken of the normalised forms (the same normalisation matching uses), so
``John.Doe@Example.com`` and ``john.doe@example.com`` are one entry.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from kithkin.auth.secret import signing_secret
from kithkin.config import Settings, get_settings
from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.privacy.models import Suppression

EMAIL, PHONE, IDENTIFIER = "email", "phone", "identifier"


def digest(kind: str, value: str, *, settings: Settings | None = None) -> str:
    """The keyed digest of one normalised value of ``kind``."""
    key = signing_secret(settings or get_settings()).encode()
    return hmac.new(key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()


def identifier_value(source: str, external_id: str) -> str:
    return f"{source}\x00{external_id}"


def add(*, session: Session, settings: Settings, entries: Iterable[tuple[str, str]],
        erasure_id: int | None) -> int:
    """Suppress ``(kind, normalised value)`` pairs; returns how many were new."""
    digests = {(kind, digest(kind, value, settings=settings)) for kind, value in entries
               if value}
    if not digests:
        return 0
    known = set(session.execute(select(Suppression.kind, Suppression.digest).where(
        Suppression.digest.in_([d for _, d in digests]))))
    fresh = sorted(digests - known)
    if fresh:
        session.execute(insert(Suppression), [
            {"kind": kind, "digest": value, "erasure_id": erasure_id} for kind, value in fresh])
    return len(fresh)


def suppressed(*, session: Session, settings: Settings,
               entries: Sequence[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
    """Which of the ``(kind, normalised value)`` pairs are on the list, and since when
    (a grant given after that moment is new consent)."""
    by_digest = {(kind, digest(kind, value, settings=settings)): (kind, value)
                 for kind, value in entries if value}
    found: dict[tuple[str, str], datetime] = {}
    keys = list(by_digest)
    for start in range(0, len(keys), 400):
        chunk = keys[start:start + 400]
        for kind, value, since in session.execute(select(
                Suppression.kind, Suppression.digest, Suppression.created_at).where(
                Suppression.digest.in_([d for _, d in chunk]))):
            if (kind, value) in by_digest:
                found[by_digest[(kind, value)]] = since
    return found


def lift(*, session: Session, settings: Settings, entries: Iterable[tuple[str, str]]) -> int:
    """Take pairs off the list (new consent was recorded for them); returns how many."""
    digests = [digest(kind, value, settings=settings) for kind, value in entries if value]
    if not digests:
        return 0
    result = session.execute(delete(Suppression).where(Suppression.digest.in_(digests)))
    return int(getattr(result, "rowcount", 0) or 0)


def any_suppressed(*, session: Session) -> bool:
    """Whether the list has an entry at all: imports skip every look-up when not."""
    return session.scalar(select(Suppression.id).limit(1)) is not None


def lift_for_customers(*, session: Session, customer_ids: Sequence[int],
                       settings: Settings | None = None) -> int:
    """Lift the e-mails, phones and source ids of customers who just granted consent."""
    if not any_suppressed(session=session):
        return 0  # the common case: nothing was ever erased, skip the look-ups
    entries: list[tuple[str, str]] = []
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), 400):
        chunk = ids[start:start + 400]
        for email, phone in session.execute(select(
                Customer.email_normalized, Customer.phone_e164).where(
                Customer.id.in_(chunk))):
            entries += [(EMAIL, email or ""), (PHONE, phone or "")]
        entries += [(IDENTIFIER, identifier_value(source, external)) for source, external
                    in session.execute(select(CustomerIdentifier.source,
                                              CustomerIdentifier.external_id).where(
                        CustomerIdentifier.customer_id.in_(chunk)))]
    return lift(session=session, settings=settings or get_settings(), entries=entries)
