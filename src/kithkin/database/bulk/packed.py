"""Integer columns in and out of SQLite as one JSON array of numbers, in-process.

The staged paths of :mod:`.sqlite` start a child process and write a file (an ADBC
stage) even when the rows are a few integer columns: a key and codes looked up by the
store, e.g. a million customers' stage codes. Such rows fit in one integer each
(mixed radix: each column's offset from its minimum times the product of the spans
before it), so they travel as one JSON array bound to the statement: SQLite's
``json_each`` yields the numbers in C and the statement unpacks the columns with
integer arithmetic (figures in benchmarks/results/relationship_steps.md). Reads go the
other way: ``json_group_array`` gives each integer column as one text that Arrow
splits and parses in C. SQLite only, and only where its JSON functions are built in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import BigInteger, Connection, Select, bindparam, func, select, type_coerce
from sqlalchemy.sql.expression import ColumnElement, Subquery

CHUNK_ROWS = 1_000_000
"""Rows per statement: bounds the JSON text held at once (about 10-20 bytes a row)."""
_LIMIT = 1 << 63
_available: dict[str, bool] = {}


def available(raw: sqlite3.Connection) -> bool:
    """Whether the SQLite library behind ``raw`` has its JSON functions."""
    version = sqlite3.sqlite_version
    if version not in _available:
        try:
            raw.execute("SELECT count(*) FROM json_each('[1]')").fetchone()
            _available[version] = True
        except sqlite3.Error:
            _available[version] = False
    return _available[version]


@dataclass(frozen=True)
class Packed:
    """Rows of integer columns as one integer each: column ``i`` is
    ``value // multipliers[i] % spans[i] + lows[i]``."""

    names: list[str]
    values: np.ndarray
    lows: list[int]
    spans: list[int]
    multipliers: list[int]

    def sources(self) -> Iterator[Subquery]:
        """One ``SELECT`` of the columns per chunk of rows, each over ``json_each`` of
        its numbers (one bound text)."""
        for start in range(0, len(self.values), CHUNK_ROWS):
            text = _json_integers(self.values[start:start + CHUNK_ROWS])
            each = func.json_each(bindparam(None, text)).table_valued("value")
            value = type_coerce(each.c.value, BigInteger())
            columns: list[ColumnElement[int]] = []
            for n, name in enumerate(self.names):
                column = value if self.multipliers[n] == 1 else value // self.multipliers[n]
                if n < len(self.names) - 1:  # the last column needs no modulo
                    column = column % self.spans[n]
                if self.lows[n]:
                    column = column + self.lows[n]
                columns.append(type_coerce(column, BigInteger()).label(name))
            yield select(*columns).subquery()


def pack(rows: pa.Table) -> Packed | None:
    """``rows`` packed, or None when a column is not an integer one, holds a null, or
    the product of the columns' spans does not fit in a signed 64-bit integer."""
    if rows.num_rows == 0 or rows.num_columns == 0:
        return None
    arrays, lows, spans = [], [], []
    for column in rows.columns:
        if not pa.types.is_integer(column.type) or column.null_count:
            return None
        values = np.asarray(column.to_numpy(), dtype=np.int64)
        low, high = int(values.min()), int(values.max())
        arrays.append(values)
        lows.append(low)
        spans.append(high - low + 1)
    multipliers, product = [], 1
    for span in spans:
        multipliers.append(product)
        product *= span
    if product >= _LIMIT:
        return None
    packed = np.zeros(rows.num_rows, dtype=np.int64)
    for values, low, multiplier in zip(arrays, lows, multipliers, strict=True):
        packed += (values - low) * multiplier
    return Packed(list(rows.column_names), packed, lows, spans, multipliers)


def read(conn: Connection, query: Select[tuple[int, ...]], names: list[str]) -> pa.Table:
    """The rows of ``query`` (integer columns ``names``) as int64 Arrow columns, each
    aggregated by SQLite into one JSON array: one scan, so the columns stay aligned; the
    rows come in the scan's order."""
    rows = query.subquery()
    texts = conn.execute(select(*(func.json_group_array(rows.c[name]) for name in names))
                         ).one()
    return pa.table({name: _integers(str(text)) for name, text in zip(names, texts,
                                                                    strict=True)})


def _json_integers(values: np.ndarray) -> str:
    """Integers as a JSON array, formatted and joined by Arrow in C."""
    text = pc.cast(pa.array(values), pa.string())
    whole = pa.ListArray.from_arrays(pa.array([0, len(text)], pa.int32()), text)
    return f"[{pc.binary_join(whole, ',')[0].as_py()}]"


def _integers(text: str) -> pa.Array:
    """A JSON array of integers (or nulls) as Arrow, split and parsed by Arrow in C
    (``json.loads`` builds a Python int per value: ten times slower on a million)."""
    inner = "".join(text.split())[1:-1]  # SQLite writes no spaces; a hand-made one may
    if not inner:
        return pa.array([], pa.int64())
    parts = pc.split_pattern(pa.array([inner]), ",").flatten()
    if "null" in inner:
        parts = pc.if_else(pc.equal(parts, "null"), pa.scalar(None, pa.string()), parts)
    return pc.cast(parts, pa.int64())
