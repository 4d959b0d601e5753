"""Reading offers: a customer's next-best products and bundle, the rules by category."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from kithkin.offers.models import OFFER_COLUMNS, AssociationRule, CustomerOffer
from kithkin.products.models import Product


@dataclass(frozen=True)
class Offer:
    product_id: int
    sku: str
    name: str
    category: str | None
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
    row = session.get(CustomerOffer, customer_id)
    if row is None:
        return CustomerOffers(next_best=[], bundle=None)
    wanted = [getattr(row, name) for name in OFFER_COLUMNS]
    ids = [i for i in wanted if i is not None][:limit]
    products = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(
        ids + [i for i in (row.bundle_product_id, row.bundle_antecedent_id) if i])))}
    next_best = [Offer(product_id=p.id, sku=p.sku, name=p.name, category=p.category,
                       rank=rank, method=row.method or "item_cosine", because_of=None)
                 for rank, p in enumerate((products[i] for i in ids if i in products),
                                          start=1)]
    bundle = None
    if row.bundle_product_id in products:
        p = products[row.bundle_product_id]
        before = products.get(row.bundle_antecedent_id or 0)
        bundle = Offer(product_id=p.id, sku=p.sku, name=p.name, category=p.category,
                       rank=1, method="rule", because_of=before.name if before else None)
    return CustomerOffers(next_best=next_best, bundle=bundle)


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
