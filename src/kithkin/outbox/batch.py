"""Queuing many messages that passed consent at once: the frequency cap, the rendering
and the insert set-wise, with the outcome :func:`kithkin.outbox.service.finish_queuing`
gives one by one.

One by one, each message costs a cap count, five reads of its customer's memory, three
template renders and a flush. Here the caps are one grouped count per chunk of customers,
the memories a few queries per chunk (:func:`kithkin.outbox.memory.customer_memories`),
the template is compiled once and each distinct input rendered once
(:class:`kithkin.outbox.render.Renderer`), and the messages land in one insert through
:mod:`kithkin.database.bulk` (ON CONFLICT DO NOTHING on the dedupe key, as before). The
messages are decided in their given order, so a customer's cap is used up by their
first messages exactly as the loop did.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kithkin.config import Settings
from kithkin.database import bulk
from kithkin.database.base import utcnow
from kithkin.outbox.memory import CHUNK, customer_memories, empty_memory
from kithkin.outbox.models import Message, MessageStatus
from kithkin.outbox.render import Renderer, RenderError

MESSAGES = bulk.table_of(Message)
# Messages that count against the frequency cap: everything not skipped or dead (as
# kithkin.outbox.service._CAPPED_STATUSES).
CAPPED = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT,
          MessageStatus.FAILED)


@dataclass(frozen=True)
class Passing:
    """A message that passed consent and the address check."""

    customer_id: int
    recipient: str | None
    context: dict[str, Any] | None
    dedupe_key: str


def capped_counts(session: Session, customer_ids: Sequence[int],
                  settings: Settings) -> dict[int, int]:
    """Marketing messages per customer that count against the cap, in its window."""
    since = utcnow() - timedelta(days=settings.outbox_cap_days)
    wanted = sorted(set(customer_ids))
    counts: dict[int, int] = {}
    for start in range(0, len(wanted), CHUNK):
        counts.update({int(c or 0): int(n) for c, n in session.execute(
            select(Message.customer_id, func.count()).where(
                Message.customer_id.in_(wanted[start:start + CHUNK]),
                Message.purpose == "marketing", Message.status.in_(CAPPED),
                Message.created_at >= since).group_by(Message.customer_id))})
    return counts


def queue_passing(*, session: Session, rows: Sequence[Passing], template: str,
                  channel: str, purpose: str, reason: str, settings: Settings,
                  created_by_id: int | None = None) -> Counter[str]:
    """Queue ``rows`` (in their order): skipped for the frequency cap, dead when the
    template fails, else rendered and queued. Returns skip reason -> messages inserted
    (``""``: queued or dead)."""
    stored: Counter[str] = Counter()
    if not rows:
        return stored
    cap = settings.outbox_cap_messages
    capping = purpose == "marketing" and cap > 0
    counts = capped_counts(session, [r.customer_id for r in rows], settings) \
        if capping else {}
    capped = f"frequency cap ({cap} per {settings.outbox_cap_days:g} days)"
    memories = customer_memories(session=session, customer_ids=[r.customer_id for r in rows],
                                 firm=settings.outbox_firm_name)
    renderer = Renderer(template=template, workspace_dir=settings.templates_dir)
    now = utcnow()
    out: list[dict[str, Any]] = []
    for row in rows:
        message: dict[str, Any] = {
            "customer_id": row.customer_id, "channel": channel, "purpose": purpose,
            "template": template, "recipient": row.recipient, "reason": reason,
            "context": None if row.context is None else json.dumps(row.context),
            "status": MessageStatus.QUEUED.value, "skip_reason": None, "subject": None,
            "body": None, "body_html": None, "last_error": None, "attempts": 0,
            "idempotency_key": uuid.uuid4().hex, "dedupe_key": row.dedupe_key,
            "created_by_id": created_by_id, "created_at": now, "updated_at": now}
        if capping and counts.get(row.customer_id, 0) >= cap:
            message["status"], message["skip_reason"] = MessageStatus.SKIPPED.value, capped
        else:
            memory = memories.get(row.customer_id) or empty_memory(settings.outbox_firm_name)
            context = {**memory, **(row.context or {})}
            try:
                rendered = renderer.render(context)
            except RenderError as exc:
                message["status"], message["last_error"] = MessageStatus.DEAD.value, str(exc)
            else:
                message["subject"], message["body"], message["body_html"] = (
                    rendered.subject, rendered.text, rendered.html)
                counts[row.customer_id] = counts.get(row.customer_id, 0) + 1
        out.append(message)
    inserted = bulk.insert_new(session.connection(), MESSAGES, pd.DataFrame(out),
                               key=["dedupe_key"])
    if inserted == len(out):
        stored.update(m["skip_reason"] or "" for m in out)
    else:  # a concurrent run queued some of them first: count what this call stored
        keys = [m["dedupe_key"] for m in out]
        mine: set[str | None] = set()
        for start in range(0, len(keys), CHUNK):
            mine.update(session.scalars(select(Message.dedupe_key).where(
                Message.dedupe_key.in_(keys[start:start + CHUNK]),
                Message.created_at == now)))
        stored.update(m["skip_reason"] or "" for m in out if m["dedupe_key"] in mine)
    return stored
