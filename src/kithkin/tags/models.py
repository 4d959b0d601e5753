"""A tag is one label on one customer; a customer has a tag at most once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, utcnow


class CustomerTag(Base):
    __tablename__ = "customer_tag"
    __table_args__ = (
        # (customer_id, tag): a customer's tags, and the no-op of tagging twice
        UniqueConstraint("customer_id", "tag"),
        # (tag, customer_id): who has a tag (list filters, counts), an index walk
        Index("ix_customer_tag_tag_customer", "tag", "customer_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"))
