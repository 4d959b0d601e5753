"""Queuing messages: render, consent, caps, in the caller's transaction.

A message is queued in the same transaction as its cause (the transactional outbox):
if the playbook run or the API request rolls back, so does the message, and a committed
message is delivered later by :mod:`kithkin.outbox.delivery`, whatever crashes between.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kithkin.config import Settings, get_settings
from kithkin.customers.models import Customer
from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.database.base import utcnow
from kithkin.database.core import add_once, get_or_raise
from kithkin.database.pagination import SortKey, keyset_page
from kithkin.errors import ConflictError, NotFoundError, ValidationError
from kithkin.outbox import consent_check
from kithkin.outbox.models import Message, MessageChannel, MessageStatus
from kithkin.outbox.render import RenderError, render

PURPOSES = ("marketing", "service", "profiling")
# Messages that count against the frequency cap: everything not skipped or dead.
_CAPPED_STATUSES = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT,
                    MessageStatus.FAILED)


def queue_message(*, session: Session, customer_id: int | None, template: str,
                  channel: str = "email", purpose: str = "marketing",
                  reason: str = "person", context: dict[str, Any] | None = None,
                  dedupe_key: str | None = None, created_by_id: int | None = None,
                  settings: Settings | None = None) -> Message:
    """Queue a message in the caller's transaction, or return the one already queued for
    ``dedupe_key``.

    The message is rendered now (what was sent is what the customer's memory said when
    it was decided) and checked against consent, the address and the frequency cap; a
    check that fails stores it SKIPPED with ``skip_reason``, and a template that fails to
    render stores it DEAD with the error, so callers never crash on one bad customer.
    ``settings`` default to the process's (callers written before it existed).
    """
    if channel not in set(MessageChannel):
        raise ValidationError(f"channel {channel!r}: use one of "
                              f"{', '.join(c.value for c in MessageChannel)}")
    if purpose not in PURPOSES:
        raise ValidationError(f"purpose {purpose!r}: use one of {', '.join(PURPOSES)}")
    if dedupe_key is not None:
        existing = session.scalar(select(Message).where(Message.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    settings = settings or get_settings()
    customer = session.get(Customer, customer_id) if customer_id is not None else None
    if customer_id is not None and customer is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    recipient, skip = consent_check.queue_check(session=session, customer=customer,
                                                channel=channel, purpose=purpose)
    message = Message(customer_id=customer_id, template=template, channel=channel,
                      purpose=purpose, reason=reason, context=context, recipient=recipient,
                      dedupe_key=dedupe_key, created_by_id=created_by_id,
                      idempotency_key=uuid.uuid4().hex, attempts=0,
                      status=MessageStatus.QUEUED)
    return finish_queuing(session=session, message=message, customer=customer, skip=skip,
                          settings=settings)


def finish_queuing(*, session: Session, message: Message, customer: Customer | None,
                   skip: str | None, settings: Settings) -> Message:
    """Add a message judged by consent and its address (``skip``: why not, else None):
    the frequency cap, then rendering; inserted once per dedupe key."""
    skip = skip or _cap_reason(session=session, customer_id=message.customer_id,
                               purpose=message.purpose, settings=settings)
    if skip is not None:
        message.status, message.skip_reason = MessageStatus.SKIPPED, skip
    else:
        _render_into(session=session, message=message, customer=customer,
                     settings=settings)
    return add_once(session, message, key_column=Message.dedupe_key, key=message.dedupe_key)


def _cap_reason(*, session: Session, customer_id: int | None, purpose: str,
                settings: Settings) -> str | None:
    """Marketing only: a service message (an answer the customer waits for) is never
    held back by how much marketing they received."""
    cap = settings.outbox_cap_messages
    if purpose != "marketing" or cap == 0 or customer_id is None:
        return None
    since = utcnow() - timedelta(days=settings.outbox_cap_days)
    sent = session.scalar(select(func.count()).select_from(Message).where(
        Message.customer_id == customer_id, Message.purpose == "marketing",
        Message.status.in_(_CAPPED_STATUSES), Message.created_at >= since)) or 0
    if sent >= cap:
        return f"frequency cap ({cap} per {settings.outbox_cap_days:g} days)"
    return None


def _render_into(*, session: Session, message: Message, customer: Customer | None,
                 settings: Settings) -> None:
    from kithkin.outbox.memory import customer_memory

    context = customer_memory(session=session, customer=customer, extra=message.context,
                              firm=settings.outbox_firm_name)
    try:
        rendered = render(template=message.template, context=context,
                          workspace_dir=settings.templates_dir)
    except RenderError as exc:
        message.status, message.last_error = MessageStatus.DEAD, str(exc)
        message.subject = message.body = message.body_html = None
        return
    message.subject, message.body, message.body_html = (
        rendered.subject, rendered.text, rendered.html)


def get(*, session: Session, message_id: int, scope: CustomerScope = EVERYONE) -> Message:
    message = get_or_raise(session, Message, message_id, "message")
    scope.check(session=session, customer_id=message.customer_id)
    return message


def list_page(*, session: Session, limit: int, after: str | None = None,
              status: str | None = None, customer_id: int | None = None,
              channel: str | None = None, reason: str | None = None,
              scope: CustomerScope = EVERYONE) -> tuple[list[Message], str | None]:
    """Newest first (a dead letter or a skip is looked for soon after it happened)."""
    query = select(Message).where(*scope.rows(Message.customer_id))
    for column, value in ((Message.status, status), (Message.customer_id, customer_id),
                          (Message.channel, channel), (Message.reason, reason)):
        if value is not None:
            query = query.where(column == value)
    return keyset_page(session=session, query=query, id_column=Message.id,
                       key=SortKey("id", Message.id), descending=True, limit=limit,
                       after=after)


def counts_by_status(*, session: Session,
                     scope: CustomerScope = EVERYONE) -> dict[str, int]:
    rows = session.execute(select(Message.status, func.count()).where(
        *scope.rows(Message.customer_id)).group_by(Message.status)).all()
    found = {status: count for status, count in rows}
    return {status.value: found.get(status.value, 0) for status in MessageStatus}


def dead_letters(*, session: Session, limit: int = 50,
                 scope: CustomerScope = EVERYONE) -> Sequence[Message]:
    return session.scalars(select(Message).where(
        Message.status == MessageStatus.DEAD, *scope.rows(Message.customer_id))
        .order_by(Message.id.desc()).limit(limit)).all()


def retry(*, session: Session, message_id: int, settings: Settings,
          scope: CustomerScope = EVERYONE) -> Message:
    """Put a dead or failed message back in the queue, due now, with fresh attempts.

    Its idempotency key is kept: if an earlier attempt did reach the receiver after all,
    the receiver still drops the repeat. A message that died rendering is rendered again
    (the template may have been fixed). Skipped messages are not retried: their reason
    (consent, cap) is a decision, not a failure; queue a new message instead.
    """
    message = get(session=session, message_id=message_id, scope=scope)
    if message.status not in (MessageStatus.DEAD, MessageStatus.FAILED):
        raise ConflictError(f"message {message_id} is {message.status}: only dead or "
                            "failed messages can be retried")
    message.status, message.attempts = MessageStatus.QUEUED, 0
    message.next_attempt_at = message.claimed_at = message.claim_token = None
    if message.body is None:
        customer = (session.get(Customer, message.customer_id)
                    if message.customer_id is not None else None)
        _render_into(session=session, message=message, customer=customer,
                     settings=settings)
    session.flush()
    return message
