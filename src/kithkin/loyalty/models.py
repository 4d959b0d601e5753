"""The loyalty ledger and members' price locks.

The balance is ``SUM(points)`` over a customer's entries: there is no stored counter
that could drift from its history. Each entry names its source (``source_key``, unique),
so granting the same order, refund, expiry or redemption twice inserts nothing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, utcnow
from kithkin.products.models import Money


class EntryKind(StrEnum):
    EARN = "earn"  # points for an order's spend
    BONUS = "bonus"  # frequency bonus on every n-th order
    REVERSE = "reverse"  # a refund takes back its order's points
    REDEEM = "redeem"
    EXPIRE = "expire"  # oldest points first
    ADJUST = "adjust"  # by a staff member, with a reason


class LoyaltyEntry(Base):
    __tablename__ = "loyalty_entry"
    __table_args__ = (Index("ix_loyalty_entry_customer_time", "customer_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger)  # signed
    # "order:<transaction id>", "bonus:<transaction id>", "refund:<transaction id>:<net>",
    # "expiry:<customer>:<date>", "redeem:<client key>", "adjust:<client key>".
    source_key: Mapped[str] = mapped_column(String(200), unique=True)
    transaction_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("transaction.id", ondelete="SET NULL"))
    occurred_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(400))
    user_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PriceLock(Base):
    """A member's price for a product, held until ``until`` (a tier benefit)."""

    __tablename__ = "loyalty_price_lock"
    __table_args__ = (Index("ix_loyalty_price_lock_customer_product",
                            "customer_id", "product_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("product.id", ondelete="CASCADE"))
    price: Mapped[float] = mapped_column(Money)
    locked_at: Mapped[datetime] = mapped_column(default=utcnow)
    until: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"))
