"""Row before-images for the merge log: JSON in, the exact same Python values out.

Undo must restore rows exactly, so values are encoded losslessly (ISO 8601 with offset for
datetimes, ISO dates, floats by repr through JSON) and decoded by the column's type.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.types import TypeDecorator


def encode_row(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {name: _encode(value) for name, value in row.items()}


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def decode_row(table: Table, row: Mapping[Any, Any]) -> dict[str, Any]:
    return {name: _decode(table, name, value) for name, value in row.items()}


def _decode(table: Table, name: str, value: Any) -> Any:
    if value is None:
        return None
    column_type = table.columns[name].type
    if isinstance(column_type, TypeDecorator):  # its python_type is `object`; ask the impl
        column_type = column_type.impl_instance
    if isinstance(column_type, JSON):
        return value
    try:
        python_type = column_type.python_type
    except NotImplementedError:
        return value
    if python_type is datetime:
        return datetime.fromisoformat(value)
    if python_type is date:
        return date.fromisoformat(value)
    if python_type is Decimal:
        return Decimal(value)
    return value
