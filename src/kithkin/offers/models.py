"""What the refresh computed to offer each customer, and the rules over orders."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType


class OfferKind:
    NEXT_BEST = "next_best"
    BUNDLE = "bundle"


class CustomerOffer(Base):
    """One ranked product for one customer, replaced as a whole by each refresh."""

    __tablename__ = "customer_offer"
    __table_args__ = (Index("ix_customer_offer_customer_kind_rank",
                            "customer_id", "kind", "rank"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("product.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    # "item_cosine" (co-occurrence), "popular" (no history to go on) or "rule".
    method: Mapped[str] = mapped_column(String(16))
    # For a bundle: the product they bought that the rule starts from.
    antecedent_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("product.id", ondelete="CASCADE"))
    as_of: Mapped[date]


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
