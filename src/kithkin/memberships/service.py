"""Reading memberships (loyalty programmes, subscriptions, contracts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.database.core import get_or_raise
from kithkin.database.pagination import SortKey, keyset_page
from kithkin.memberships.models import Membership
from kithkin.memberships.schemas import MembershipRead


def get(*, session: Session, membership_id: int,
        scope: CustomerScope = EVERYONE) -> Membership:
    membership = get_or_raise(session, Membership, membership_id, "membership")
    scope.check(session=session, customer_id=membership.customer_id)
    return membership


def list_page(*, session: Session, limit: int, after: str | None = None,
              customer_id: int | None = None, kind: str | None = None,
              scope: CustomerScope = EVERYONE,
              ) -> tuple[list[Membership], str | None]:
    query = select(Membership).where(*scope.rows(Membership.customer_id))
    if customer_id is not None:
        query = query.where(Membership.customer_id == customer_id)
    if kind:
        query = query.where(Membership.kind == kind)
    return keyset_page(session=session, query=query, id_column=Membership.id,
                       key=SortKey("id", Membership.id), limit=limit, after=after)


_bonds = Membership.__table__.c
# Built once: the customer 360 runs it on every request.
_OF_CUSTOMER = (
    select(*(_bonds[name] for name in MembershipRead.model_fields))
    .where(_bonds.customer_id == bindparam("customer_id"))
    .order_by(_bonds.started_at.desc())
)


def for_customer(*, session: Session, customer_id: int) -> Sequence[Row[Any]]:
    """The customer's memberships, latest start first, as rows with MembershipRead's
    columns (no ORM objects: the 360 serialises them at once)."""
    return session.connection().execute(_OF_CUSTOMER, {"customer_id": customer_id}).all()
