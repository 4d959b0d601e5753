"""Adding, removing and listing customer tags.

Tags are normalised once, here (trimmed, lower-cased, inner spaces to ``-``), so "VIP",
" vip " and "Vip" are one tag everywhere: the 360 page, list filters, the CLI. Adding a
tag a customer already has is a no-op, so a repeated bulk "add tag" changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import Select, delete, func, select, true
from sqlalchemy.orm import Session

from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.database.base import utcnow
from kithkin.database.setwise import insert_ignoring, typed
from kithkin.errors import ValidationError
from kithkin.tags.models import CustomerTag

MAX_LENGTH = 64
_ALLOWED = re.compile(r"^[a-z0-9][a-z0-9_.:-]*$")


def normalize(tag: str) -> str:
    """The stored form of ``tag``; ValidationError naming the tag and why otherwise."""
    cleaned = re.sub(r"\s+", "-", tag.strip().lower())
    if not cleaned:
        raise ValidationError("tag: empty; give letters or digits, e.g. vip")
    if len(cleaned) > MAX_LENGTH:
        raise ValidationError(f"tag {tag!r}: longer than {MAX_LENGTH} characters")
    if not _ALLOWED.match(cleaned):
        raise ValidationError(
            f"tag {tag!r}: use letters, digits and - _ . : (starting with a letter or digit)")
    return cleaned


def tags_of(*, session: Session, customer_id: int) -> list[str]:
    """The customer's tags, alphabetically."""
    return list(session.scalars(select(CustomerTag.tag).where(
        CustomerTag.customer_id == customer_id).order_by(CustomerTag.tag)))


def add_tags(*, session: Session, customer_id: int, tags: Iterable[str],
             created_by_id: int | None = None) -> list[str]:
    """Give the customer ``tags``; returns the ones that were new."""
    wanted = sorted({normalize(t) for t in tags})
    have = set(tags_of(session=session, customer_id=customer_id))
    added = [t for t in wanted if t not in have]
    for tag in added:
        session.add(CustomerTag(customer_id=customer_id, tag=tag,
                                created_by_id=created_by_id))
    session.flush()
    return added


def remove_tags(*, session: Session, customer_id: int, tags: Iterable[str]) -> int:
    """Take ``tags`` off the customer; returns how many it had."""
    names = sorted({normalize(t) for t in tags})
    result = session.execute(delete(CustomerTag).where(
        CustomerTag.customer_id == customer_id, CustomerTag.tag.in_(names)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def add_tag_to_selection(*, session: Session, tag: str, customer_ids: Select[int],
                         created_by_id: int | None = None) -> int:
    """Tag every customer ``customer_ids`` selects, in one ``INSERT ... SELECT`` (no row
    comes into Python); customers that already have the tag are skipped by the unique
    key. Returns how many were newly tagged."""
    name = normalize(tag)
    ids = customer_ids.subquery()
    rows = select(ids.c[0], typed(session, name, CustomerTag.tag),
                  typed(session, utcnow(), CustomerTag.created_at),
                  typed(session, created_by_id, CustomerTag.created_by_id)).where(true())
    statement = insert_ignoring(session, CustomerTag, ["customer_id", "tag"]).from_select(
        ["customer_id", "tag", "created_at", "created_by_id"], rows)
    return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]


def tag_counts(*, session: Session, scope: CustomerScope = EVERYONE,
               limit: int = 200) -> list[tuple[str, int]]:
    """Every tag in use and how many customers (in ``scope``) have it, most used first."""
    count = func.count().label("n")
    rows = session.execute(select(CustomerTag.tag, count)
                           .where(*scope.rows(CustomerTag.customer_id))
                           .group_by(CustomerTag.tag)
                           .order_by(count.desc(), CustomerTag.tag).limit(limit))
    return [(tag, int(n)) for tag, n in rows]
