"""Interactions: every touch between firm and customer, in either direction."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, utcnow


class InteractionKind(StrEnum):
    INQUIRY = "inquiry"
    COMPLAINT = "complaint"
    SERVICE_REQUEST = "service_request"
    SURVEY_RESPONSE = "survey_response"
    EXIT_INTERVIEW = "exit_interview"
    IDEA = "idea"
    REFERRAL = "referral"
    REVIEW = "review"
    VISIT = "visit"
    EMAIL = "email"
    CALL = "call"
    MEETING = "meeting"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class InteractionChannel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"
    WEB = "web"
    STORE = "store"
    SOCIAL = "social"
    SMS = "sms"
    POST = "post"
    IN_PERSON = "in_person"


class ScoreScale(StrEnum):
    NPS = "nps"  # 0-10
    CSAT = "csat"  # 1-5


class TicketStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESPONDED = "responded"  # the firm has answered; the cause is not fixed yet
    RESOLVED = "resolved"
    CLOSED = "closed"


SCORE_RANGES: dict[str, tuple[float, float]] = {ScoreScale.NPS: (0, 10), ScoreScale.CSAT: (1, 5)}


class Interaction(Base):
    __tablename__ = "interaction"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_interaction_customer_time", "customer_id", "occurred_at"),
        Index("ix_interaction_kind_time", "kind", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    # Client event id: makes single and batch ingestion idempotent.
    external_id: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE")
    )
    prospect_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("prospect.id", ondelete="CASCADE"), index=True
    )
    occurred_at: Mapped[datetime]
    channel: Mapped[str | None] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str | None] = mapped_column(String(300))
    text: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float)
    score_scale: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str | None] = mapped_column(String(16))
    resolved_at: Mapped[datetime | None]
    # Complaint lifecycle (kithkin.retention.complaints): first answer and who owns it.
    responded_at: Mapped[datetime | None]
    owner_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"))
    tags: Mapped[list[str] | None] = mapped_column(JSON)
    staff_user_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL")
    )
    attributes: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def resolution_hours(self) -> float | None:
        if self.resolved_at is None:
            return None
        return (self.resolved_at - self.occurred_at).total_seconds() / 3600
