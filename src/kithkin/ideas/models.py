"""Ideas, their votes and comments, and each status change with its public reply."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, TimestampMixin, utcnow


class IdeaStatus(StrEnum):
    NEW = "new"
    UNDER_REVIEW = "under_review"
    PLANNED = "planned"
    SHIPPED = "shipped"
    DECLINED = "declined"


class Idea(TimestampMixin, Base):
    __tablename__ = "idea"
    __table_args__ = (Index("ix_idea_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    # The customer whose idea it is (submitted by them, or by staff on their behalf).
    customer_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="SET NULL"), index=True)
    submitted_by_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default=IdeaStatus.NEW)
    public_reply: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None]
    # The client's id for the submission: a retried POST stores the idea once.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)


class IdeaVote(Base):
    """One vote per customer and idea; the count is COUNT(*), never a stored number."""

    __tablename__ = "idea_vote"
    __table_args__ = (UniqueConstraint("idea_id", "customer_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    idea_id: Mapped[int] = mapped_column(IdType, ForeignKey("idea.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdeaComment(Base):
    __tablename__ = "idea_comment"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    idea_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("idea.id", ondelete="CASCADE"), index=True)
    # A customer's comment, or staff's (then user_id is set).
    customer_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdeaStatusChange(Base):
    __tablename__ = "idea_status_change"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    idea_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("idea.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    public_reply: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
