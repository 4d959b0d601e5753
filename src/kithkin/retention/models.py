"""Exit interviews: what a former customer said, and how staff classified it.

One row per interview. ``interaction_id`` links the touch in the interaction log (kind
``exit_interview``), so the timeline shows it; the classification lives here because it
is an analyst's judgement that can be revised, not an event. ``suggested_*`` keep what
the classifier proposed when the interview was recorded, so its agreement with staff can
be measured later.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, utcnow


class ExitInterview(Base):
    __tablename__ = "exit_interview"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_exit_interview_customer", "customer_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"))
    interaction_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("interaction.id", ondelete="SET NULL"), unique=True)
    occurred_at: Mapped[datetime]
    text: Mapped[str] = mapped_column(Text)
    # null: not classified yet (an imported text awaiting review)
    reason_category: Mapped[str | None] = mapped_column(String(64))
    defector_type: Mapped[str | None] = mapped_column(String(32))
    suggested_category: Mapped[str | None] = mapped_column(String(64))
    suggested_type: Mapped[str | None] = mapped_column(String(32))
    suggested_by: Mapped[str | None] = mapped_column(String(16))  # rules | model
    created_by_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
