"""Queuing messages. Rendering, consent, caps and delivery grow here (#14)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kithkin.outbox.models import Message


def queue_message(*, session: Session, customer_id: int | None, template: str,
                  channel: str = "email", purpose: str = "marketing",
                  reason: str = "person", context: dict[str, Any] | None = None,
                  dedupe_key: str | None = None,
                  created_by_id: int | None = None) -> Message:
    """Queue a message in the caller's transaction, or return the one already queued for
    ``dedupe_key``. The returned message may be SKIPPED with a reason (no consent...)."""
    if dedupe_key is not None:
        existing = session.scalar(select(Message).where(Message.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    message = Message(customer_id=customer_id, template=template, channel=channel,
                      purpose=purpose, reason=reason, context=context,
                      dedupe_key=dedupe_key, created_by_id=created_by_id,
                      idempotency_key=uuid.uuid4().hex)
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        if dedupe_key is None:
            raise
        stored = session.scalar(select(Message).where(Message.dedupe_key == dedupe_key))
        assert stored is not None
        return stored
    return message
