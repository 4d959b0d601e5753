"""What a message template knows about its customer: the customer's memory.

Templates are written against this one dictionary, so a message reads the same whoever
queued it (a playbook, a list, a person): name, preferences, last purchase and, when the
caller has them, recommendations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kithkin.customers.models import Customer
from kithkin.offers import service as offer_service
from kithkin.preferences import service as preference_service
from kithkin.products.models import Product
from kithkin.transactions.models import Transaction, TransactionLine

MAX_ITEMS = 5
CHUNK = 500  # customers per set-wise read (below SQLite's bound-variable limit)


def _purchase(order: Transaction, names: list[tuple[str | None, str | None]]
              ) -> dict[str, Any]:
    items = [name or sku for name, sku in names[:MAX_ITEMS] if name or sku]
    return {"ordered_at": order.ordered_at, "amount": order.amount,
            "currency": order.currency, "order_id": order.order_id, "products": items}


def _lines(session: Session, order_ids: Sequence[int]) -> Any:
    """(order id, product name, SKU) of the orders' bought lines, in line order."""
    return session.execute(
        select(TransactionLine.transaction_id, Product.name, TransactionLine.sku)
        .select_from(TransactionLine)
        .outerjoin(Product, Product.id == TransactionLine.product_id)
        .where(TransactionLine.transaction_id.in_(order_ids), TransactionLine.quantity > 0)
        .order_by(TransactionLine.transaction_id, TransactionLine.line_no)).all()


def last_purchase(*, session: Session, customer_id: int) -> dict[str, Any] | None:
    """The latest order: when, how much, and up to MAX_ITEMS product names (SKU where
    the product is unknown); None when the customer never bought."""
    order = session.scalar(select(Transaction).where(Transaction.customer_id == customer_id)
                           .order_by(Transaction.ordered_at.desc(), Transaction.id.desc())
                           .limit(1))
    if order is None:
        return None
    return _purchase(order, [(name, sku) for _, name, sku in _lines(session, [order.id])])


def last_purchases(*, session: Session, customer_ids: Sequence[int]
                   ) -> dict[int, dict[str, Any]]:
    """:func:`last_purchase` of many customers in two queries (customers who never
    bought are left out): the latest order per customer by a window over the
    (customer, time) index, then the lines of those orders."""
    t = Transaction
    ranked = select(t.id, func.row_number().over(
        partition_by=t.customer_id, order_by=(t.ordered_at.desc(), t.id.desc())).label("n"),
    ).where(t.customer_id.in_(sorted(set(customer_ids)))).subquery()
    orders = list(session.scalars(select(t).where(
        t.id.in_(select(ranked.c.id).where(ranked.c.n == 1)))))
    names: dict[int, list[tuple[str | None, str | None]]] = {}
    for order_id, name, sku in _lines(session, [o.id for o in orders]) if orders else []:
        names.setdefault(int(order_id), []).append((name, sku))
    return {int(o.customer_id): _purchase(o, names.get(o.id, [])) for o in orders
            if o.customer_id is not None}


def empty_memory(firm: str) -> dict[str, Any]:
    """The memory of no customer (what a template may still read: the firm)."""
    return {"firm": firm, "customer": None, "preferences": None, "last_purchase": None,
            "recommendations": [], "bundle": None}


def _about(customer: Customer) -> dict[str, Any]:
    name = " ".join(p for p in (customer.first_name, customer.last_name) if p)
    return {"id": customer.id, "first_name": customer.first_name,
            "last_name": customer.last_name, "name": name or None,
            "company": customer.company, "email": customer.email,
            "city": customer.city, "country": customer.country}


def customer_memory(*, session: Session, customer: Customer | None,
                    extra: dict[str, Any] | None, firm: str) -> dict[str, Any]:
    """The template context: the caller's ``extra`` keys over the memory.

    ``preferences`` are the customer's remembered preferences
    (:func:`kithkin.preferences.service.template_context`: ``known`` is False when
    nothing is remembered, so templates must not invent taste); ``recommendations`` and
    ``bundle`` are the latest refresh's offers (:mod:`kithkin.offers.service`: an empty
    list and None before one).
    """
    memory = empty_memory(firm)
    if customer is not None:
        memory["customer"] = _about(customer)
        memory.update(preference_service.template_context(session=session,
                                                          customer_id=customer.id))
        memory.update(offer_service.template_context(session=session,
                                                     customer_id=customer.id))
        memory["last_purchase"] = last_purchase(session=session, customer_id=customer.id)
    memory.update(extra or {})
    return memory


def customer_memories(*, session: Session, customer_ids: Sequence[int], firm: str
                      ) -> dict[int, dict[str, Any]]:
    """:func:`customer_memory` (without the caller's keys) of many customers, read
    set-wise: a few queries per :data:`CHUNK` customers instead of five per message.
    Customers that do not exist are left out."""
    memories: dict[int, dict[str, Any]] = {}
    wanted = sorted({int(c) for c in customer_ids})
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        customers = session.scalars(select(Customer).where(Customer.id.in_(chunk))).all()
        preferences = preference_service.template_contexts(session=session,
                                                           customer_ids=chunk)
        offers = offer_service.template_contexts(session=session, customer_ids=chunk)
        purchases = last_purchases(session=session, customer_ids=chunk)
        for customer in customers:
            memory = empty_memory(firm)
            memory["customer"] = _about(customer)
            memory.update(preferences[customer.id])
            memory.update(offers[customer.id])
            memory["last_purchase"] = purchases.get(customer.id)
            memories[customer.id] = memory
    return memories
