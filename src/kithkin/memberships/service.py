"""Reading memberships (loyalty programmes, subscriptions, contracts)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from kithkin.api.pagination import SortKey, keyset_page
from kithkin.database.core import get_or_raise
from kithkin.memberships.models import Membership


def get(*, session: Session, membership_id: int) -> Membership:
    membership = get_or_raise(session, Membership, membership_id, "membership")
    return membership


def list_page(*, session: Session, limit: int, after: str | None = None,
              customer_id: int | None = None, kind: str | None = None,
              ) -> tuple[list[Membership], str | None]:
    query = select(Membership)
    if customer_id is not None:
        query = query.where(Membership.customer_id == customer_id)
    if kind:
        query = query.where(Membership.kind == kind)
    return keyset_page(session=session, query=query, id_column=Membership.id,
                       key=SortKey("id", Membership.id), limit=limit, after=after)


def for_customer(*, session: Session, customer_id: int) -> Sequence[Membership]:
    return session.scalars(
        select(Membership).where(Membership.customer_id == customer_id)
        .order_by(Membership.started_at.desc())
    ).all()
