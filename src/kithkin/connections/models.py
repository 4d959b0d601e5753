"""A link between two customers: a referral (directed), a household or a company contact."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, TimestampMixin


class LinkKind(StrEnum):
    REFERRED = "referred"  # from referred to (the referrer is from_customer_id)
    HOUSEHOLD = "household"  # same household; stored once, lower id first
    CONTACT_OF = "contact_of"  # from is a person, to is the company account


class CustomerLink(TimestampMixin, Base):
    __tablename__ = "customer_link"
    __table_args__ = (
        UniqueConstraint("from_customer_id", "to_customer_id", "kind"),
        CheckConstraint("from_customer_id <> to_customer_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    from_customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    to_customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # A contact's role at the account ("buyer", "finance"), or a free note.
    role: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(100), default="staff")
    created_by_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"))
