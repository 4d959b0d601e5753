"""What a message template knows about its customer: the customer's memory.

Templates are written against this one dictionary, so a message reads the same whoever
queued it (a playbook, a list, a person): name, preferences, last purchase and, when the
caller has them, recommendations.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kithkin.customers.models import Customer
from kithkin.offers import service as offer_service
from kithkin.preferences import service as preference_service
from kithkin.products.models import Product
from kithkin.transactions.models import Transaction, TransactionLine

MAX_ITEMS = 5


def last_purchase(*, session: Session, customer_id: int) -> dict[str, Any] | None:
    """The latest order: when, how much, and up to MAX_ITEMS product names (SKU where
    the product is unknown); None when the customer never bought."""
    order = session.scalar(select(Transaction).where(Transaction.customer_id == customer_id)
                           .order_by(Transaction.ordered_at.desc(), Transaction.id.desc())
                           .limit(1))
    if order is None:
        return None
    names = session.execute(
        select(Product.name, TransactionLine.sku)
        .select_from(TransactionLine)
        .outerjoin(Product, Product.id == TransactionLine.product_id)
        .where(TransactionLine.transaction_id == order.id, TransactionLine.quantity > 0)
        .order_by(TransactionLine.line_no).limit(MAX_ITEMS)).all()
    items = [name or sku for name, sku in names if name or sku]
    return {"ordered_at": order.ordered_at, "amount": order.amount,
            "currency": order.currency, "order_id": order.order_id, "products": items}


def customer_memory(*, session: Session, customer: Customer | None,
                    extra: dict[str, Any] | None, firm: str) -> dict[str, Any]:
    """The template context: the caller's ``extra`` keys over the memory.

    ``preferences`` are the customer's remembered preferences
    (:func:`kithkin.preferences.service.template_context`: ``known`` is False when
    nothing is remembered, so templates must not invent taste); ``recommendations`` and
    ``bundle`` are the latest refresh's offers (:mod:`kithkin.offers.service`: an empty
    list and None before one).
    """
    memory: dict[str, Any] = {"firm": firm, "customer": None, "preferences": None,
                              "last_purchase": None, "recommendations": [], "bundle": None}
    if customer is not None:
        name = " ".join(p for p in (customer.first_name, customer.last_name) if p)
        memory["customer"] = {
            "id": customer.id, "first_name": customer.first_name,
            "last_name": customer.last_name, "name": name or None,
            "company": customer.company, "email": customer.email,
            "city": customer.city, "country": customer.country}
        memory.update(preference_service.template_context(session=session,
                                                          customer_id=customer.id))
        memory.update(offer_service.template_context(session=session,
                                                     customer_id=customer.id))
        memory["last_purchase"] = last_purchase(session=session, customer_id=customer.id)
    memory.update(extra or {})
    return memory
