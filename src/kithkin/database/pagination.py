"""Keyset ("seek") pagination: stable pages under concurrent inserts, O(limit) per page.

OFFSET pagination re-reads and skips rows, gets slower page by page, and shifts when rows
are inserted ahead of the offset (duplicates or gaps). A keyset page instead continues
strictly after the last row seen, ordered by ``(sort key, id)``; the id breaks ties so
the order is total. The cursor is that last ``(sort key, id)``, base64url-encoded JSON.

A sort key is non-null, or declared ``nullable``: NULL ("unknown") then comes after every
value in either direction, and the listing is read as two index ranges, the values
ordered by ``(key, id)`` then the NULLs by id alone, with a cursor of ``(null, id)`` in
the second. ``coalesce`` would give one range but hides the column from its index, so
every page would sort the whole table; and unknowns last means the first page of a sort
is the values' index walk, never a hunt for NULLs.

Listings that merge several ordered queries (the dashboard's name search and timeline)
build their own seek conditions but encode their cursors with :func:`encode_values` and
:func:`decode_values`, so there is one cursor format. The HTTP envelope (``Page``) lives
in :mod:`kithkin.api.pagination`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, tuple_
from sqlalchemy.orm import QueryableAttribute, Session

from kithkin.errors import ValidationError

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


SortExpression = ColumnElement[Any] | QueryableAttribute[Any]


@dataclass(frozen=True)
class SortKey:
    """A whitelisted sort: the public name, the SQL expression, and its value type."""

    name: str
    expression: SortExpression
    kind: type = int
    # NULL allowed: it comes after every value (see the module docstring).
    nullable: bool = False
    # The id column that orders equal values when it is not the listing's own (a joined
    # table's copy of the id, so the join's index serves the order); None: the id column.
    tiebreak: SortExpression | None = None


def encode_values(values: Sequence[Any]) -> str:
    """An opaque cursor holding ``values`` (dates and datetimes as ISO text)."""
    plain = [v.isoformat() if isinstance(v, datetime | date) else v for v in values]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _is_int64(value: int) -> bool:
    return -(2**63) <= value < 2**63


def decode_values(cursor: str, *, field: str = "after") -> list[Any]:
    """The values :func:`encode_values` packed; ValidationError naming ``field`` if
    ``cursor`` is not one of ours."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise ValidationError(f"{field}: not a cursor this listing returned") from exc
    # Forged cursors must not reach the driver with integers it cannot bind.
    if not isinstance(values, list) or not all(
            _is_int64(v) for v in values if isinstance(v, int)):
        raise ValidationError(f"{field}: not a cursor this listing returned")
    return values


def encode_cursor(value: Any, row_id: int) -> str:
    return encode_values([value, row_id])


def decode_cursor(cursor: str, key: SortKey, *, field: str = "after") -> tuple[Any, int]:
    values = decode_values(cursor, field=field)
    try:
        value, row_id = values
        if value is None and key.nullable:
            pass
        elif key.kind is datetime:
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
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{field}: not a cursor this listing returned") from exc
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


def _seek(key: SortKey, tiebreak: SortExpression, value: Any, last_id: int,
          descending: bool) -> ColumnElement[bool]:
    """Rows strictly after ``(value, last_id)`` in ``(key, tiebreak)`` order."""
    if descending:
        return or_(key.expression < value, and_(key.expression == value, tiebreak < last_id))
    return tuple_(key.expression, tiebreak) > tuple_(value, last_id)


def keyset_page(
    *, session: Session, query: Select[Any], id_column: SortExpression, key: SortKey,
    descending: bool = False, limit: int = DEFAULT_LIMIT, after: str | None = None,
    cursor_field: str = "after", nulls_query: Select[Any] | None = None,
) -> tuple[list[Any], str | None]:
    """One page of ``query``'s entities and the cursor of the next page (None at the end);
    ``cursor_field`` names the parameter that carried ``after`` in errors. For a nullable
    key from a joined table, ``query`` may inner-join it (so the join's index orders the
    values) and ``nulls_query`` outer-join it (rows with no joined row are NULL too)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit: must be between 1 and {MAX_LIMIT}")
    cursor = decode_cursor(after, key, field=cursor_field) if after else None
    same_column = key.expression is id_column
    tiebreak = key.tiebreak if key.tiebreak is not None else id_column
    direction = "desc" if descending else "asc"

    def values_range(seek: tuple[Any, int] | None) -> Select[Any]:
        ranged = query.where(key.expression.is_not(None)) if key.nullable else query
        if same_column:
            if seek:
                ranged = ranged.where(id_column < seek[1] if descending else id_column > seek[1])
            return ranged.order_by(getattr(id_column, direction)())
        if seek:
            ranged = ranged.where(_seek(key, tiebreak, seek[0], seek[1], descending))
        return ranged.order_by(getattr(key.expression, direction)(),
                               getattr(tiebreak, direction)())

    def nulls_range(seek: tuple[Any, int] | None) -> Select[Any]:
        ranged = (query if nulls_query is None else nulls_query).where(
            key.expression.is_(None))
        if seek:
            ranged = ranged.where(id_column < seek[1] if descending else id_column > seek[1])
        return ranged.order_by(getattr(id_column, direction)())

    ranges: list[Select[Any]]
    if not key.nullable:
        ranges = [values_range(cursor)]
    elif cursor is not None and cursor[0] is None:  # the cursor is in the NULLs
        ranges = [nulls_range(cursor)]
    else:
        ranges = [values_range(cursor), nulls_range(None)]
    rows: list[Any] = []
    for ranged in ranges:
        wanted = limit + 1 - len(rows)
        if wanted <= 0:
            break
        rows += session.execute(ranged.add_columns(key.expression.label("_keyset_value"),
                                                   id_column.label("_keyset_id"))
                                .limit(wanted)).all()
    if len(rows) <= limit:
        return [row[0] for row in rows], None
    rows = rows[:limit]
    sort_value, last_id = rows[-1][-2], rows[-1][-1]
    if sort_value is None and not key.nullable:
        sort_value = ""
    return [row[0] for row in rows], encode_cursor(sort_value, last_id)
