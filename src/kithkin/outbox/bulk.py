"""Queuing a message for many customers at once, with the queue-time checks of
:func:`kithkin.outbox.service.queue_message`.

A playbook run after a refresh queues up to a message per customer. The checks that
need no rendering (erasure, consent for the purpose on the channel, an address:
:func:`kithkin.outbox.consent_check.consent_reason`) are one expression, so the messages
that fail them are stored SKIPPED with their reason by one ``INSERT ... SELECT`` (no
row comes into Python). Those that pass are capped, rendered
and inserted set-wise (:func:`kithkin.outbox.batch.queue_passing`, the outcome
:func:`kithkin.outbox.service.finish_queuing` gives one by one). Each message's unique
``dedupe_key`` makes a repeated call a no-op.

A caller that keeps its own record of why a message was held back (a playbook's firing)
uses the two halves alone: :func:`decided` judges the rows, the caller records the
skips where it keeps them, and :func:`queue_passing` queues the rest; no skipped
message row is stored then.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    String,
    Subquery,
    cast,
    exists,
    func,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from kithkin.config import Settings
from kithkin.customers.models import Consent, Customer
from kithkin.database.base import utcnow
from kithkin.database.setwise import insert_ignoring, typed
from kithkin.outbox import batch, consent_check
from kithkin.outbox.models import Message, MessageStatus

COLUMNS = ["customer_id", "channel", "purpose", "template", "recipient", "context",
           "status", "skip_reason", "reason", "attempts", "idempotency_key", "dedupe_key",
           "created_by_id", "created_at", "updated_at"]


def _padded(session: Session, value: ColumnElement[Any]) -> ColumnElement[str]:
    """An id as 12-digit text: the keys ``<token>.<id>`` then sort as the ids do, so the
    unique index on ``idempotency_key`` grows at its end (unpadded, "10" sorts before
    "9" and every insert lands at a random place: a fifth of the insert's cost at 1M)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.lpad(cast(value, String), 12, "0")
    return func.printf("%012d", value)


def decided(rows: Select[Any], channel: str, purpose: str) -> Subquery:
    """``rows`` (``id``, ``customer_id``, ``dedupe_key``, ``context``) with each message's
    ``recipient`` and ``skip_reason`` (:func:`kithkin.outbox.consent_check.consent_reason`
    with the address check; NULL: it may be queued)."""
    given = rows.subquery()
    return select(
        given.c.id, given.c.customer_id, given.c.dedupe_key,
        type_coerce(given.c.context, JSON).label("context"),
        consent_check.recipient(channel).label("recipient"),
        consent_check.consent_reason(channel, purpose, address=True).label("skip_reason"),
    ).join(Customer, Customer.id == given.c.customer_id).outerjoin(
        Consent, consent_check.consent_of(channel, purpose)).subquery()


def queue_messages_for(*, session: Session, rows: Select[Any], template: str,
                       channel: str, purpose: str, reason: str, settings: Settings,
                       count: int | None = None, created_by_id: int | None = None
                       ) -> Counter[str]:
    """One message per row of ``rows``, whose columns are ``id`` (unique among the rows:
    their order, and part of each message's idempotency key), ``customer_id``,
    ``dedupe_key`` and ``context`` (the template's extra keys, as a JSON object).
    Returns the messages stored by this call: skip reason -> count, ``""`` for those
    that went on to be queued (or dead: their template failed to render). ``count``:
    how many rows ``rows`` selects, when the caller knows (if every one is skipped,
    the ones that pass are not looked for)."""
    judged = decided(rows, channel, purpose)
    now = utcnow()
    token = uuid.uuid4().hex  # with the row's id: unique per message
    skipped = select(
        judged.c.customer_id, typed(session, channel, Message.channel),
        typed(session, purpose, Message.purpose), typed(session, template, Message.template),
        judged.c.recipient, judged.c.context,
        typed(session, MessageStatus.SKIPPED.value, Message.status), judged.c.skip_reason,
        typed(session, reason, Message.reason), typed(session, 0, Message.attempts),
        f"{token}." + _padded(session, judged.c.id), judged.c.dedupe_key,
        typed(session, created_by_id, Message.created_by_id),
        typed(session, now, Message.created_at), typed(session, now, Message.updated_at),
    ).where(judged.c.skip_reason.is_not(None))
    statement = insert_ignoring(session, Message, ["dedupe_key"]).from_select(
        COLUMNS, skipped).returning(Message.skip_reason)
    # the reasons come back as the driver's plain rows (not processed one by one)
    result = session.connection().execute(statement)
    try:
        stored = Counter(str(row[0]) for row in result.cursor.fetchall()) \
            if result.cursor is not None else Counter[str]()
    finally:
        result.close()
    if count is not None and stored.total() >= count:
        return stored
    stored.update(queue_passing(session=session, judged=judged, template=template,
                                channel=channel, purpose=purpose, reason=reason,
                                settings=settings, created_by_id=created_by_id))
    return stored


def queue_passing(*, session: Session, judged: Subquery, template: str, channel: str,
                  purpose: str, reason: str, settings: Settings,
                  created_by_id: int | None = None) -> Counter[str]:
    """Queue the rows of ``judged`` (:func:`decided`) that may be sent and are not
    stored yet: capped, rendered and inserted set-wise
    (:func:`kithkin.outbox.batch.queue_passing`). Returns what it stored, as
    :func:`queue_messages_for`."""
    passing = session.execute(select(
        judged.c.customer_id, judged.c.recipient, judged.c.context, judged.c.dedupe_key,
    ).where(judged.c.skip_reason.is_(None), ~exists().where(
        Message.dedupe_key == judged.c.dedupe_key)).order_by(judged.c.id)).all()
    return batch.queue_passing(
        session=session, rows=[batch.Passing(int(r.customer_id), r.recipient, r.context,
                                             str(r.dedupe_key)) for r in passing],
        template=template, channel=channel, purpose=purpose, reason=reason,
        settings=settings, created_by_id=created_by_id)
