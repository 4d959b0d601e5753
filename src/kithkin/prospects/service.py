"""Reading prospects (people with no transaction yet)."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kithkin.database.core import get_or_raise
from kithkin.database.pagination import SortKey, keyset_page
from kithkin.prospects.models import Prospect


def get(*, session: Session, prospect_id: int) -> Prospect:
    prospect = get_or_raise(session, Prospect, prospect_id, "prospect")
    return prospect


def list_page(*, session: Session, limit: int, after: str | None = None, q: str | None = None,
              status: str | None = None, origin: str | None = None,
              ) -> tuple[list[Prospect], str | None]:
    """Prospects by id; ``q`` matches name, company or email (case-insensitive)."""
    query = select(Prospect)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(or_(*(func.lower(column).like(pattern) for column in (
            Prospect.first_name, Prospect.last_name, Prospect.company, Prospect.email))))
    if status:
        query = query.where(Prospect.status == status)
    if origin:
        query = query.where(Prospect.origin == origin)
    return keyset_page(session=session, query=query, id_column=Prospect.id,
                       key=SortKey("id", Prospect.id), limit=limit, after=after)
