"""Reading and logging interactions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from kithkin.customers.models import Customer
from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.database.core import get_or_raise
from kithkin.database.pagination import SortKey, keyset_page
from kithkin.errors import ConflictError, NotFoundError, ValidationError
from kithkin.interactions.models import SCORE_RANGES, Interaction
from kithkin.interactions.schemas import InteractionCreate, InteractionRead

STAFF_SOURCE = "staff"


def get(*, session: Session, interaction_id: int,
        scope: CustomerScope = EVERYONE) -> Interaction:
    interaction = get_or_raise(session, Interaction, interaction_id, "interaction")
    scope.check(session=session, customer_id=interaction.customer_id)
    return interaction


def list_page(*, session: Session, limit: int, after: str | None = None,
              customer_id: int | None = None, kind: str | None = None,
              scope: CustomerScope = EVERYONE,
              ) -> tuple[list[Interaction], str | None]:
    query = select(Interaction).where(*scope.rows(Interaction.customer_id))
    if customer_id is not None:
        query = query.where(Interaction.customer_id == customer_id)
    if kind:
        query = query.where(Interaction.kind == kind)
    return keyset_page(session=session, query=query, id_column=Interaction.id,
                       key=SortKey("id", Interaction.id), limit=limit, after=after)


_touches = Interaction.__table__.c
# Built once: the customer 360 runs it on every request.
_RECENT = (
    select(*(_touches[name] for name in InteractionRead.model_fields))
    .where(_touches.customer_id == bindparam("customer_id"))
    .order_by(_touches.occurred_at.desc(), _touches.id.desc()).limit(bindparam("limit"))
)


def recent_for_customer(*, session: Session, customer_id: int,
                        limit: int = 10) -> Sequence[Row[Any]]:
    """The customer's latest interactions, newest first (the (customer, time) index), as
    rows with InteractionRead's columns (no ORM objects: the 360 serialises them at once)."""
    return session.connection().execute(
        _RECENT, {"customer_id": customer_id, "limit": limit}).all()


def log(*, session: Session, data: InteractionCreate, staff_user_id: int) -> Interaction:
    """Record a touch by a staff user; the same ``external_id`` twice is a conflict."""
    if session.get(Customer, data.customer_id) is None:
        raise NotFoundError(f"customer {data.customer_id} does not exist")
    if (data.score is None) != (data.score_scale is None):
        raise ValidationError("score: score and score_scale go together")
    if data.score is not None and data.score_scale is not None:
        low, high = SCORE_RANGES[data.score_scale]
        if not low <= data.score <= high:
            raise ValidationError(f"score: {data.score} is outside {data.score_scale} "
                                  f"range {low:g}-{high:g}")
    external_id = data.external_id or uuid.uuid4().hex
    exists = session.scalar(select(Interaction.id).where(
        Interaction.source == STAFF_SOURCE, Interaction.external_id == external_id))
    if exists is not None:
        raise ConflictError(f"interaction {external_id!r} was already logged (id {exists})")
    values = data.model_dump(exclude={"external_id"}, mode="python")
    values["occurred_at"] = data.occurred_at.astimezone(UTC)  # as it reads back from the store
    interaction = Interaction(source=STAFF_SOURCE, external_id=external_id,
                              staff_user_id=staff_user_id, **values)
    session.add(interaction)
    session.flush()
    return interaction
