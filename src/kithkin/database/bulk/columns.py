"""Arrow types and driver formats derived from a table's SQLAlchemy column types.

Every bulk path bypasses SQLAlchemy's per-value processing, so values must reach the
driver in the form SQLAlchemy itself would have written. That form is decided here once,
from the column types, and nowhere else:

- SQLite: datetimes as naive UTC text ``YYYY-MM-DD HH:MM:SS.ffffff`` (what
  :class:`~kithkin.database.base.UTCDateTime` writes), dates as ISO text, booleans as
  0/1, JSON as its text;
- PostgreSQL ``COPY ... (FORMAT csv)``: Arrow's CSV writer (ISO timestamps with ``Z``,
  ``true``/``false``, JSON text; an empty string quoted, a null not).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    String,
    Table,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

from kithkin.errors import ValidationError

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")


def _base_type(sql_type: TypeEngine[Any]) -> TypeEngine[Any]:
    while isinstance(sql_type, TypeDecorator):
        sql_type = sql_type.impl_instance
    return sql_type


def is_json(column: Column[Any]) -> bool:
    return isinstance(_base_type(column.type), JSON)


def arrow_type_of(sql_type: TypeEngine[Any]) -> pa.DataType | None:
    """The Arrow type of a SQL type's values; None when there is no bulk form."""
    base = _base_type(sql_type)
    if isinstance(base, DateTime):
        return UTC_TIMESTAMP
    if isinstance(base, Date):
        return pa.date32()
    if isinstance(base, Boolean):
        return pa.bool_()
    if isinstance(base, Integer):
        return pa.int64()
    if isinstance(base, Float | Numeric):
        return pa.float64()
    if isinstance(base, String | JSON):  # Text is a String; JSON travels as its text
        return pa.string()
    return None


def arrow_type(column: Column[Any]) -> pa.DataType:
    """The one Arrow type a column's values have in every bulk path."""
    found = arrow_type_of(column.type)
    if found is None:
        raise ValidationError(f"{column.table.name}.{column.name}: no bulk form for "
                              f"{type(column.type).__name__}")
    return found


def arrow_schema(table: Table, names: Iterable[str] | None = None) -> pa.Schema:
    chosen = list(names) if names is not None else [c.name for c in table.columns]
    return pa.schema([(name, arrow_type(table.c[name])) for name in chosen])


def _json_text(array: pa.ChunkedArray | pa.Array) -> pa.Array:
    """JSON text of any other Arrow type (lists, structs, numbers)."""
    return pa.array([None if value is None else json.dumps(value)
                     for value in array.to_pylist()], pa.string())


def _series_to_arrow(values: pd.Series, column: Column[Any] | None) -> pa.Array:
    """One pandas column as Arrow: text bound for a text column straight to strings
    (inferring the type of a million Python strings costs more than the conversion), the
    rest as Arrow infers it (:func:`conform` casts it to the column's type)."""
    if column is not None and values.dtype == object \
            and pa.types.is_string(arrow_type_of(column.type) or pa.null()):
        try:
            return pa.array(values.to_numpy(), type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    return pa.array(values, from_pandas=True)


def _to_arrow(table: Table, data: pa.Table | pd.DataFrame) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    frame = data  # only its columns are read (a reset index would copy them all)
    names = [str(name) for name in frame.columns]
    return pa.Table.from_arrays([_series_to_arrow(series, table.c.get(name)) for name, (
        _, series) in zip(names, frame.items(), strict=True)], names=names)


def _column_default(column: Column[Any]) -> Any:
    """The Python-side default of a column the rows leave out (None without one).

    A bulk path binds every column itself, so SQLAlchemy's defaults are evaluated here:
    once per call, or refused when the default needs the row (it reads other values).
    """
    default = column.default
    if default is None:
        return None
    arg = getattr(default, "arg", None)
    if getattr(default, "is_scalar", False):
        return arg
    if getattr(default, "is_callable", False) and callable(arg):
        try:
            return arg(None)
        except Exception as exc:
            raise ValidationError(f"{column.table.name}.{column.name}: its default needs "
                                  "the row; give the column's values") from exc
    raise ValidationError(f"{column.table.name}.{column.name}: give the column's values "
                          "(its default is SQL)")


MAX_CODES = 256
"""Values a dictionary-encoded column may have and stay encoded (see :func:`conform`)."""


def conform(table: Table, data: pa.Table | pd.DataFrame, *,
            constants: Mapping[str, Any] | None = None, complete: bool = False,
            defaults: bool = True, encoded: bool = False) -> pa.Table:
    """``data`` (Arrow or pandas) typed like ``table``'s columns, in the data's order.

    ``constants`` adds columns with one value for every row. ``complete`` adds every
    other column but the primary key, with its scalar default or null, in table order.
    With ``defaults`` (rows to insert) columns left out that have a Python-side default
    get it. With ``encoded`` a dictionary-encoded column of at most :data:`MAX_CODES`
    values stays encoded (its values typed; see :func:`decoded`), for a path that lands
    the codes and lets the store look the values up. A name that is not a column of
    ``table``, or a value the column's type cannot hold, is refused with the table,
    column and reason.
    """
    arrow = _to_arrow(table, data)
    given = {name: arrow.column(name) for name in arrow.column_names}
    for name, value in (constants or {}).items():
        given[name] = pa.chunked_array([pa.repeat(pa.scalar(value), arrow.num_rows)])
    unknown = [name for name in given if name not in table.c]
    if unknown:
        raise ValidationError(f"{table.name}: no column {', '.join(map(repr, unknown))}")
    defaulted = [c.name for c in table.columns
                 if defaults and c.name not in given and c.default is not None]
    if complete:
        names = [c.name for c in table.columns if not c.primary_key or c.name in given]
    else:
        names = [*given, *defaulted]
    arrays = []
    for name in names:
        column = table.c[name]
        target = arrow_type(column)
        if name not in given:
            default = _column_default(column)
            arrays.append(pa.nulls(arrow.num_rows, target) if default is None
                          else pa.repeat(pa.scalar(default, target), arrow.num_rows))
            continue
        values = given[name]
        try:
            if is_json(column) and not (pa.types.is_string(values.type)
                                        or pa.types.is_null(values.type)):
                values = _json_text(values)
            if pa.types.is_dictionary(values.type):
                values = _encoded(values, target) if encoded else values.cast(target)
            else:
                values = values.cast(target)
            arrays.append(values)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError) as exc:
            raise ValidationError(f"{table.name}.{name}: cannot store {values.type} "
                                  f"as {target}: {exc}") from exc
    return pa.Table.from_arrays(arrays, names=names)


def _encoded(values: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """A dictionary-encoded column with its values typed, one dictionary for every chunk;
    decoded when it has more than :data:`MAX_CODES` values."""
    combined = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if len(combined.dictionary) > MAX_CODES:
        return pa.chunked_array([combined.cast(target)])
    return pa.chunked_array([pa.DictionaryArray.from_arrays(
        combined.indices, combined.dictionary.cast(target))])


def decoded(arrow: pa.Table) -> pa.Table:
    """``arrow`` with every dictionary-encoded column replaced by its values."""
    return pa.Table.from_arrays(
        [column.cast(column.type.value_type) if pa.types.is_dictionary(column.type)
         else column for column in arrow.columns], names=arrow.column_names)


def sqlite_array(array: pa.ChunkedArray) -> pa.ChunkedArray:
    """One column in SQLite's storage form (see the module docstring); chunks are kept
    (no copy for the columns that need no conversion)."""
    if pa.types.is_timestamp(array.type):
        # Dropping the zone keeps the UTC wall time; naive to text is one C cast (a
        # zoned cast to text or strftime would look the zone up per value).
        return array.cast(pa.timestamp("us")).cast(pa.string())
    if pa.types.is_date(array.type):
        return array.cast(pa.string())
    if pa.types.is_boolean(array.type):
        return array.cast(pa.int64())
    return array


def sqlite_table(arrow: pa.Table) -> pa.Table:
    """A conformed table in SQLite's storage form (what an ADBC stage file holds)."""
    return pa.Table.from_arrays([sqlite_array(c) for c in arrow.columns],
                                names=arrow.column_names)


def sqlite_rows(arrow: pa.Table) -> list[tuple[Any, ...]]:
    """Plain tuples for ``sqlite3`` ``executemany`` (its fastest input)."""
    if arrow.num_columns == 0:
        return [()] * arrow.num_rows
    return list(zip(*(sqlite_array(c).to_pylist() for c in arrow.columns), strict=True))


def csv_bytes(arrow: pa.Table) -> bytes:
    """A conformed table as headerless CSV for PostgreSQL's ``COPY ... (FORMAT csv)``."""
    buffer = io.BytesIO()
    pa_csv.write_csv(arrow, buffer, write_options=pa_csv.WriteOptions(include_header=False))
    return buffer.getvalue()


def from_rows(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    """Rows fetched from either driver as Arrow of ``schema`` (SQLite text dates and
    datetimes parsed in C; PostgreSQL's native values and Decimals converted)."""
    arrays = []
    for i, target in enumerate(schema.types):
        values = [row[i] for row in rows]
        arrays.append(_array(values, target))
    return pa.Table.from_arrays(arrays, schema=schema)


def _array(values: list[Any], target: pa.DataType) -> pa.Array:
    sample = next((v for v in values if v is not None), None)
    if sample is None:
        return pa.nulls(len(values), target)
    if isinstance(sample, str) and not pa.types.is_string(target):
        if pa.types.is_timestamp(target):
            # naive UTC text; Arrow parses ISO text in C, then it is tagged as UTC
            parsed = pc.cast(pa.array(values, pa.string()), pa.timestamp("us"))
            return parsed.view(target)
        return pc.cast(pa.array(values, pa.string()), target)
    if isinstance(sample, Decimal):
        return pa.array([None if v is None else float(v) for v in values], target)
    if pa.types.is_string(target) and not isinstance(sample, str):
        if isinstance(sample, date | datetime):
            return pa.array([None if v is None else v.isoformat() for v in values], target)
        return pa.array([None if v is None else json.dumps(v) for v in values], target)
    if pa.types.is_timestamp(target) and isinstance(sample, datetime) \
            and sample.tzinfo is None:
        return pa.array(values, pa.timestamp("us")).view(target)
    try:
        return pa.array(values, target)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # SQLite's 0/1 booleans
        return pa.array(values).cast(target)
