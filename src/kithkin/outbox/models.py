"""A message is queued (or skipped, with its reason) and then delivered once."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, TimestampMixin


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SKIPPED = "skipped"  # never sent: no consent, opted out, capped... (skip_reason)
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # will be retried at next_attempt_at
    DEAD = "dead"  # retries exhausted or refused for good (bounce, webhook 4xx)


class MessageChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"


class Message(TimestampMixin, Base):
    __tablename__ = "message"
    __table_args__ = (
        Index("ix_message_status_next", "status", "next_attempt_at"),
        Index("ix_message_customer_created", "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    # Consent purpose checked before queuing: marketing, service or profiling.
    purpose: Mapped[str] = mapped_column(String(16), default="marketing")
    template: Mapped[str] = mapped_column(String(200))
    recipient: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(400))
    body: Mapped[str | None] = mapped_column(Text)  # the text part, rendered at queue time
    body_html: Mapped[str | None] = mapped_column(Text)
    context: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.QUEUED)
    skip_reason: Mapped[str | None] = mapped_column(String(100))
    # "playbook:<name>:<trigger>", "list:<id>", "idea:<id>" or "person".
    reason: Mapped[str] = mapped_column(String(200), default="person")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    # When a delivery run claimed it (status SENDING): past the lease, another run may
    # claim it again and re-send it under the same idempotency key.
    claimed_at: Mapped[datetime | None]
    # Which run claimed it: a run only marks the messages it holds the claim of.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    # Sent with every delivery (the webhook's Idempotency-Key header, the e-mail's
    # Message-ID) so a receiver can drop a repeat after a crash.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    # The same trigger never queues the same message twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"))
