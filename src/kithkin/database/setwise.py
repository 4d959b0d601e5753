"""Set-based writes shared by bulk actions: ``INSERT ... SELECT ... ON CONFLICT DO
NOTHING`` on SQLite and PostgreSQL.

A bulk action over a million customers must not bring them into Python: the rows are
selected and inserted by the database in one statement, and a unique key (a task's
``dedupe_key``, a tag's ``(customer_id, tag)``) turns a repeated run into a no-op.
The :mod:`kithkin.database.bulk` port lands frames that are already in Python; this is
its counterpart for rows that never leave the store.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, cast, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session


def typed(session: Session, value: Any, column: InstrumentedAttribute[Any]
          ) -> ColumnElement[Any]:
    """A constant for an ``INSERT ... SELECT`` column list, bound with the column's own
    type (so a datetime is stored as that column stores it); on PostgreSQL also cast, so
    the server knows the type of a parameter in a select list (a NULL above all). SQLite
    is not cast: its CAST to a date type would make the text a number."""
    bound = literal(value, column.type)
    if session.get_bind().dialect.name == "postgresql":
        return cast(bound, column.type)
    return bound


def insert_ignoring(session: Session, model: type[Any], conflict_columns: list[str]) -> Any:
    """``INSERT INTO model ... ON CONFLICT (conflict_columns) DO NOTHING`` for the
    session's database; add ``.from_select(...)``. The select needs a WHERE clause
    (SQLite reads ``ON CONFLICT`` after a bare ``FROM`` as a join's ``ON``)."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # rowcount (rows inserted) is kept only when asked for, outside UPDATE and DELETE
    return (module.insert(model).on_conflict_do_nothing(index_elements=conflict_columns)
            .execution_options(preserve_rowcount=True))
