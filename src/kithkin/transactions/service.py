"""Reading transactions (orders) with their lines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session, selectinload

from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.database.pagination import SortKey, keyset_page
from kithkin.errors import NotFoundError
from kithkin.transactions.models import Transaction
from kithkin.transactions.schemas import TransactionRead


def get(*, session: Session, transaction_id: int,
        scope: CustomerScope = EVERYONE) -> Transaction:
    """One order with its lines."""
    transaction = session.scalar(
        select(Transaction).options(selectinload(Transaction.lines))
        .where(Transaction.id == transaction_id)
    )
    if transaction is None:
        raise NotFoundError(f"transaction {transaction_id} does not exist")
    scope.check(session=session, customer_id=transaction.customer_id)
    return transaction


def list_page(*, session: Session, limit: int, after: str | None = None,
              customer_id: int | None = None,
              scope: CustomerScope = EVERYONE) -> tuple[list[Transaction], str | None]:
    """Orders by id, optionally of one customer."""
    query = select(Transaction).where(*scope.rows(Transaction.customer_id))
    if customer_id is not None:
        query = query.where(Transaction.customer_id == customer_id)
    return keyset_page(session=session, query=query, id_column=Transaction.id,
                       key=SortKey("id", Transaction.id), limit=limit, after=after)


_orders = Transaction.__table__.c
# Built once: the customer 360 runs it on every request. ``margin`` as Transaction.margin.
_RECENT = (
    select(*(_orders[name] for name in TransactionRead.model_fields if name in _orders),
           (_orders.amount - _orders.cost).label("margin"))
    .where(_orders.customer_id == bindparam("customer_id"))
    .order_by(_orders.ordered_at.desc(), _orders.id.desc()).limit(bindparam("limit"))
)


def recent_for_customer(*, session: Session, customer_id: int,
                        limit: int = 10) -> Sequence[Row[Any]]:
    """The customer's latest orders, newest first (the (customer, time) index), as rows
    with TransactionRead's columns: the 360 serialises them at once, and building ORM
    objects would cost more than the query."""
    return session.connection().execute(
        _RECENT, {"customer_id": customer_id, "limit": limit}).all()
