"""Keyset ("seek") pagination: stable pages under concurrent inserts, O(limit) per page.

OFFSET pagination re-reads and skips rows, gets slower page by page, and shifts when rows
are inserted ahead of the offset (duplicates or gaps). A keyset page instead continues
strictly after the last row seen, ordered by ``(sort key, id)``; the id breaks ties so
the order is total. The cursor is that last ``(sort key, id)``, base64url-encoded JSON.
Sort keys must be non-null (wrap nullable columns in ``coalesce``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, and_, or_, tuple_
from sqlalchemy.orm import QueryableAttribute, Session

from kithkin.errors import ValidationError

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `after` to get the next page; null on the last page."
    )
    limit: int


SortExpression = ColumnElement[Any] | QueryableAttribute[Any]


@dataclass(frozen=True)
class SortKey:
    """A whitelisted sort: the public name, the SQL expression, and its value type."""

    name: str
    expression: SortExpression
    kind: type = int


def _is_int64(value: int) -> bool:
    return -(2**63) <= value < 2**63


def encode_cursor(value: Any, row_id: int) -> str:
    if isinstance(value, datetime | date):
        value = value.isoformat()
    raw = json.dumps([value, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, key: SortKey) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, row_id = json.loads(raw)
        if key.kind is datetime:
            value = datetime.fromisoformat(value)
        elif key.kind is date:
            value = date.fromisoformat(value)
        elif not isinstance(value, key.kind) or isinstance(value, bool):
            raise TypeError(value)
        # Forged cursors must not reach the driver with values it cannot bind.
        if not all(_is_int64(v) for v in (row_id, value) if isinstance(v, int)):
            raise ValueError(row_id)
        if not isinstance(row_id, int) or isinstance(row_id, bool):
            raise TypeError(row_id)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValidationError("after: not a cursor this listing returned") from exc
    return value, row_id


def parse_sort(sort: str, allowed: Sequence[SortKey]) -> tuple[SortKey, bool]:
    """``"name"`` ascending or ``"-name"`` descending, from the whitelist only."""
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    for key in allowed:
        if key.name == name:
            return key, descending
    names = ", ".join(k.name for k in allowed)
    raise ValidationError(f"sort: {name!r} is not sortable; use one of {names} (- for desc)")


def keyset_page(
    *, session: Session, query: Select[Any], id_column: SortExpression, key: SortKey,
    descending: bool = False, limit: int = DEFAULT_LIMIT, after: str | None = None,
) -> tuple[list[Any], str | None]:
    """One page of ``query``'s entities and the cursor of the next page (None at the end).

    An empty ``after`` is the first page, like an absent one (``?after=`` from a form).
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit: must be between 1 and {MAX_LIMIT}")
    same_column = key.expression is id_column
    if after:
        value, last_id = decode_cursor(after, key)
        if same_column:
            query = query.where(id_column < last_id if descending else id_column > last_id)
        elif descending:
            query = query.where(or_(key.expression < value,
                                    and_(key.expression == value, id_column < last_id)))
        else:
            query = query.where(tuple_(key.expression, id_column) > tuple_(value, last_id))
    order = [key.expression.desc(), id_column.desc()] if descending else [
        key.expression.asc(), id_column.asc()]
    rows = list(session.scalars(query.order_by(*(order[1:] if same_column else order))
                                .limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    sort_value = getattr(last, key.name) if not same_column else last.id
    return rows, encode_cursor(sort_value if sort_value is not None else "", last.id)

