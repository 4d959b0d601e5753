"""Reading offers: a customer's next-best products and bundle, the rules by category."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from kithkin.offers.models import AssociationRule, CustomerOffer, OfferKind
from kithkin.products.models import Product


@dataclass(frozen=True)
class Offer:
    product_id: int
    sku: str
    name: str
    category: str | None
    score: float
    rank: int
    method: str
    because_of: str | None  # a bundle's antecedent product name


@dataclass(frozen=True)
class CustomerOffers:
    next_best: list[Offer]
    bundle: Offer | None


@dataclass(frozen=True)
class Rule:
    antecedent: str
    consequent: str
    category: str | None
    orders_both: int
    support: float
    confidence: float
    lift: float


def for_customer(*, session: Session, customer_id: int, limit: int = 10) -> CustomerOffers:
    """The customer's offers from the latest refresh (empty before one, or when the data
    has no product lines to learn from)."""
    source = aliased(Product)
    rows = session.execute(
        select(CustomerOffer, Product, source.name)
        .join(Product, Product.id == CustomerOffer.product_id)
        .outerjoin(source, source.id == CustomerOffer.antecedent_id)
        .where(CustomerOffer.customer_id == customer_id)
        .order_by(CustomerOffer.kind, CustomerOffer.rank)).all()
    offers = [Offer(product_id=p.id, sku=p.sku, name=p.name, category=p.category,
                    score=o.score, rank=o.rank, method=o.method, because_of=because)
              for o, p, because in rows]
    kinds = [o.kind for o, _, _ in rows]
    next_best = [o for o, k in zip(offers, kinds, strict=True) if k == OfferKind.NEXT_BEST]
    bundles = [o for o, k in zip(offers, kinds, strict=True) if k == OfferKind.BUNDLE]
    return CustomerOffers(next_best=next_best[:limit], bundle=bundles[0] if bundles else None)


def template_context(*, session: Session, customer_id: int) -> dict[str, object]:
    """What message templates may use: ``recommendations`` (names, best first) and
    ``bundle`` (None when there is nothing to suggest)."""
    offers = for_customer(session=session, customer_id=customer_id, limit=3)
    return {"recommendations": [o.name for o in offers.next_best],
            "bundle": offers.bundle.name if offers.bundle else None}


def rules(*, session: Session, category: str | None = None, limit: int = 100) -> list[Rule]:
    antecedent, consequent = aliased(Product), aliased(Product)
    query = select(AssociationRule, antecedent.name, consequent.name) \
        .join(antecedent, antecedent.id == AssociationRule.antecedent_id) \
        .join(consequent, consequent.id == AssociationRule.consequent_id)
    if category is not None:
        query = query.where(AssociationRule.category == category)
    query = query.order_by(AssociationRule.category, AssociationRule.lift.desc(),
                           AssociationRule.id).limit(limit)
    return [Rule(antecedent=a, consequent=c, category=r.category, orders_both=r.orders_both,
                 support=r.support, confidence=r.confidence, lift=r.lift)
            for r, a, c in session.execute(query).all()]
