"""What the refresh computed to offer each customer, and the rules over orders."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.analytics.baskets import TOP_K
from kithkin.database.base import Base, IdType

OFFER_COLUMNS = tuple(f"product_{n}" for n in range(1, TOP_K + 1))


class CustomerOffer(Base):
    """A customer's offers from the latest refresh: the ranked products as columns
    (``product_1`` best), one row per customer so a million customers land as a million
    rows. Product ids are not foreign keys: the row is replaced by the next refresh, and
    a product deleted meanwhile is skipped when read."""

    __tablename__ = "customer_offer"

    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    as_of: Mapped[date]
    # "item_cosine" (co-occurrence) or "popular" (no purchase history to go on).
    method: Mapped[str | None] = mapped_column(String(16))
    product_1: Mapped[int | None] = mapped_column(BigInteger)
    product_2: Mapped[int | None] = mapped_column(BigInteger)
    product_3: Mapped[int | None] = mapped_column(BigInteger)
    product_4: Mapped[int | None] = mapped_column(BigInteger)
    product_5: Mapped[int | None] = mapped_column(BigInteger)
    product_6: Mapped[int | None] = mapped_column(BigInteger)
    product_7: Mapped[int | None] = mapped_column(BigInteger)
    product_8: Mapped[int | None] = mapped_column(BigInteger)
    product_9: Mapped[int | None] = mapped_column(BigInteger)
    product_10: Mapped[int | None] = mapped_column(BigInteger)
    # The bundle: a product they have not bought that goes with one they have.
    bundle_product_id: Mapped[int | None] = mapped_column(BigInteger)
    bundle_antecedent_id: Mapped[int | None] = mapped_column(BigInteger)
    bundle_score: Mapped[float | None] = mapped_column(Float)


class AssociationRule(Base):
    """Bought A, also bought B in the same order: the strongest rules per category."""

    __tablename__ = "association_rule"
    __table_args__ = (Index("ix_association_rule_category_lift", "category", "lift"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    antecedent_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("product.id", ondelete="CASCADE"))
    consequent_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("product.id", ondelete="CASCADE"))
    category: Mapped[str | None] = mapped_column(String(100))
    orders_both: Mapped[int] = mapped_column(Integer)
    support: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    lift: Mapped[float] = mapped_column(Float)
    as_of: Mapped[date]
