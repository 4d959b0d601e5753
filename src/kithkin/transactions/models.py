"""Transactions (orders) and their lines; refunds are negative lines or negative orders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kithkin.database.base import Base, IdType, utcnow
from kithkin.products.models import Money


class Transaction(Base):
    __tablename__ = "transaction"
    __table_args__ = (
        UniqueConstraint("source", "order_id"),
        Index("ix_transaction_customer_time", "customer_id", "ordered_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    order_id: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int] = mapped_column(IdType, ForeignKey("customer.id", ondelete="CASCADE"))
    ordered_at: Mapped[datetime]
    amount: Mapped[float] = mapped_column(Money)
    cost: Mapped[float | None] = mapped_column(Money)
    discount: Mapped[float | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    channel: Mapped[str | None] = mapped_column(String(50))
    # Units bought, when the source gives one count per order (a transaction log);
    # None when it does not say. Orders imported with lines keep theirs per line.
    quantity: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[TransactionLine]] = relationship(
        back_populates="transaction", cascade="all, delete-orphan"
    )

    @property
    def margin(self) -> float | None:
        return None if self.cost is None else self.amount - self.cost


class TransactionLine(Base):
    __tablename__ = "transaction_line"
    __table_args__ = (UniqueConstraint("transaction_id", "line_no"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("transaction.id", ondelete="CASCADE")
    )
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("product.id", ondelete="SET NULL"), index=True
    )
    sku: Mapped[str | None] = mapped_column(String(100))
    quantity: Mapped[float] = mapped_column(Float)  # negative for a returned line
    unit_price: Mapped[float] = mapped_column(Money)
    discount: Mapped[float | None] = mapped_column(Money)
    unit_cost: Mapped[float | None] = mapped_column(Money)
    bundle: Mapped[str | None] = mapped_column(String(100))

    transaction: Mapped[Transaction] = relationship(back_populates="lines")
