"""One row of preferences per customer, edited by staff (and later by the customer)."""

from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, TimestampMixin


class CustomerPreference(TimestampMixin, Base):
    """Remembered preferences. Kept in their own table (not the customer's free
    ``attributes``) so they have a shape staff can edit, templates can read and the
    relationship engine can count; an identity merge keeps the newer row (``updated_at``
    breaks the ``customer_id`` tie)."""

    __tablename__ = "customer_preference"
    __table_args__ = (UniqueConstraint("customer_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    brands: Mapped[list[str]] = mapped_column(JSON, default=list)
    sizes: Mapped[list[str]] = mapped_column(JSON, default=list)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    # How many things are remembered (list items, plus 1 for notes): the analytics
    # snapshot copies this number, so has_preferences needs no JSON decoding on the engine.
    item_count: Mapped[int] = mapped_column(default=0)
    updated_by_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"))
