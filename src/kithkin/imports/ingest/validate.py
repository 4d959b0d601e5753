"""Range checks that keep every imported value storable and readable on every store.

A value reaches the database only if its column holds it the same way on SQLite and
PostgreSQL: finite numbers within the column's precision (coerce.to_number), dates in a
plausible window, text without control characters and no cell longer than
``ingest_max_field_chars``. Anything else is a reject naming the field and the reason, so
PostgreSQL never refuses a whole batch and no reader meets a year-0 date or an infinity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import BigInteger, Column, Float, Integer, Numeric, SmallInteger

from kithkin.config import Settings
from kithkin.imports.ingest.coerce import UTC_US, as_text, errors_where
from kithkin.imports.ingest.kinds import When

CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
"""Control characters refused in any text (tab and line breaks are text)."""
KEY_CONTROL = r"[\x00-\x1f\x7f]"
"""Refused in ids and sources, which are matched and shown on one line."""


@dataclass(frozen=True)
class Window:
    start: datetime  # inclusive
    end: datetime  # exclusive
    too_early: str
    too_late: str


@dataclass(frozen=True)
class Limits:
    """The settings' limits, fixed once per import (``now`` included)."""

    earliest: date
    latest: date
    future: datetime
    birth_earliest: date
    today: date
    max_chars: int

    @classmethod
    def current(cls, settings: Settings) -> Limits:
        now = datetime.now(UTC)
        return cls(earliest=settings.ingest_earliest_date, latest=settings.ingest_latest_date,
                   future=now + timedelta(days=settings.ingest_future_days),
                   birth_earliest=settings.ingest_earliest_birth_date, today=now.date(),
                   max_chars=settings.ingest_max_field_chars)

    def window(self, when: When) -> Window:
        def midnight(day: date) -> datetime:
            return datetime.combine(day, time(), tzinfo=UTC)

        if when is When.BIRTH:
            return Window(midnight(self.birth_earliest), midnight(self.today + timedelta(1)),
                          f"before {self.birth_earliest} (setting ingest_earliest_birth_date)",
                          "in the future")
        early = f"before {self.earliest} (setting ingest_earliest_date)"
        after_latest = f"after {self.latest} (setting ingest_latest_date)"
        end = midnight(self.latest + timedelta(1))
        if when is When.EVENT and self.future < end:
            return Window(midnight(self.earliest), self.future, early,
                          f"in the future: after {self.future:%Y-%m-%d %H:%M} UTC "
                          "(setting ingest_future_days)")
        return Window(midnight(self.earliest), end, early, after_latest)


def column_bound(column: Column[object]) -> float | None:
    """Magnitude a numeric column holds on every store (None: any finite float)."""
    kind = column.type
    if isinstance(kind, Float):
        return None
    if isinstance(kind, Numeric) and kind.precision is not None:
        return 10.0 ** (kind.precision - (kind.scale or 0))
    if isinstance(kind, BigInteger):
        return 2.0**63
    if isinstance(kind, SmallInteger):
        return 2.0**15
    if isinstance(kind, Integer):
        return 2.0**31
    return None


def text_errors(values: pa.Array, *, key: bool, max_chars: int) -> pa.Array:
    """Cells longer than ``max_chars`` or holding control characters (NUL, ESC...)."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_nested(array.type):
        text = as_text(array)  # its JSON text: only its length matters
    elif pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        text = array
    elif pa.types.is_dictionary(array.type) or pa.types.is_binary(array.type) \
            or pa.types.is_large_binary(array.type):
        text = as_text(array)
    else:
        return pa.nulls(len(array), pa.string())  # numbers, dates, booleans
    errors = pa.nulls(len(text), pa.string())
    # Bytes bound characters from above: count characters only when some cell may be long.
    if (pc.max(pc.binary_length(text)).as_py() or 0) > max_chars:
        errors = errors_where(pc.greater(pc.utf8_length(text), max_chars),
                              f"longer than {max_chars:,} characters "
                              "(setting ingest_max_field_chars)")
    if not pa.types.is_nested(array.type) and _may_hold_control(text, key=key):
        reason = ("contains a control character (NUL, tab, line break...), not allowed in "
                  "an id or source" if key else "contains a control character (NUL, ESC...)")
        # Trimmed: the surrounding white space (a trailing line break) is not stored.
        controls = pc.match_substring_regex(pc.utf8_trim_whitespace(text),
                                            KEY_CONTROL if key else CONTROL)
        errors = pc.coalesce(errors, errors_where(controls, reason))
    return errors


def _may_hold_control(text: pa.Array, *, key: bool) -> bool:
    """Whether any byte of the column's data is a control character: one pass over the
    buffer, so the per-cell regular expression only runs on columns that need it."""
    data = text.buffers()[2]
    if data is None:
        return False
    codes = np.frombuffer(data, np.uint8)
    found = (codes < 0x20) | (codes == 0x7F)
    if not key:
        found &= (codes != 0x09) & (codes != 0x0A) & (codes != 0x0D)
    return bool(found.any())


def date_errors(values: pa.Array, when: When, limits: Limits) -> pa.Array:
    """Dates (date32) or UTC date-times outside the field's plausible window."""
    window = limits.window(when)
    if pa.types.is_date(values.type):
        start: pa.Scalar = pa.scalar(window.start.date(), pa.date32())
        # A date is late when its day starts at or after the window's end.
        end: pa.Scalar = pa.scalar((window.end - timedelta(microseconds=1)).date(),
                                   pa.date32())
        late = pc.greater(values, end)
    else:
        start = pa.scalar(window.start, UTC_US)
        late = pc.greater_equal(values, pa.scalar(window.end, UTC_US))
    return pc.coalesce(errors_where(pc.less(values, start), window.too_early),
                       errors_where(late, window.too_late))


def control_in_name(name: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in name)
