"""Reading transactions (orders) with their lines."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kithkin.api.pagination import SortKey, keyset_page
from kithkin.errors import NotFoundError
from kithkin.transactions.models import Transaction


def get(*, session: Session, transaction_id: int) -> Transaction:
    """One order with its lines."""
    transaction = session.scalar(
        select(Transaction).options(selectinload(Transaction.lines))
        .where(Transaction.id == transaction_id)
    )
    if transaction is None:
        raise NotFoundError(f"transaction {transaction_id} does not exist")
    return transaction


def list_page(*, session: Session, limit: int, after: str | None = None,
              customer_id: int | None = None) -> tuple[list[Transaction], str | None]:
    """Orders by id, optionally of one customer."""
    query = select(Transaction)
    if customer_id is not None:
        query = query.where(Transaction.customer_id == customer_id)
    return keyset_page(session=session, query=query, id_column=Transaction.id,
                       key=SortKey("id", Transaction.id), limit=limit, after=after)


def recent_for_customer(*, session: Session, customer_id: int,
                        limit: int = 10) -> Sequence[Transaction]:
    """The customer's latest orders, newest first (uses the (customer, time) index)."""
    return session.scalars(
        select(Transaction).where(Transaction.customer_id == customer_id)
        .order_by(Transaction.ordered_at.desc(), Transaction.id.desc()).limit(limit)
    ).all()
