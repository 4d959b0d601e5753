"""Reading offers: a customer's next-best products and bundle, the rules by category."""

from __future__ import annotations

from collections.abc import Sequence
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
    return _offers(row, _products(session, [row], limit), limit)


def _wanted(row: CustomerOffer, limit: int) -> list[int]:
    return [i for i in (getattr(row, name) for name in OFFER_COLUMNS) if i is not None][:limit]


def _products(session: Session, rows: Sequence[CustomerOffer], limit: int
              ) -> dict[int, Product]:
    """The products the rows name (their first ``limit`` offers and bundles), by id."""
    ids = {i for row in rows for i in (*_wanted(row, limit), row.bundle_product_id,
                                       row.bundle_antecedent_id) if i}
    return {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(ids)))} \
        if ids else {}


def _offers(row: CustomerOffer, products: dict[int, Product], limit: int) -> CustomerOffers:
    ids = _wanted(row, limit)
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


def _context(offers: CustomerOffers) -> dict[str, object]:
    return {"recommendations": [o.name for o in offers.next_best],
            "bundle": offers.bundle.name if offers.bundle else None}


def template_context(*, session: Session, customer_id: int) -> dict[str, object]:
    """What message templates may use: ``recommendations`` (names, best first) and
    ``bundle`` (None when there is nothing to suggest)."""
    return _context(for_customer(session=session, customer_id=customer_id, limit=3))


def template_contexts(*, session: Session,
                      customer_ids: Sequence[int]) -> dict[int, dict[str, object]]:
    """:func:`template_context` of every customer in ``customer_ids`` in two queries
    (messages queued set-wise)."""
    rows = list(session.scalars(select(CustomerOffer).where(
        CustomerOffer.customer_id.in_(sorted(set(customer_ids))))))
    products = _products(session, rows, 3)
    found = {row.customer_id: _context(_offers(row, products, 3)) for row in rows}
    empty = _context(CustomerOffers(next_best=[], bundle=None))
    return {int(c): found.get(int(c), dict(empty)) for c in customer_ids}


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
