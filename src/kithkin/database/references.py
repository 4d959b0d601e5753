"""Which columns point at a table: found in the metadata, so a table added later is seen.

The customer export (everything stored about a person) and a merge (which rows move to
the survivor) both ask "what refers to this customer?"; they get one answer here. The
metadata holds only the tables of imported model modules: callers import
:mod:`kithkin.database.registry` first.
"""

from __future__ import annotations

from sqlalchemy import Column
from sqlalchemy.orm import InstrumentedAttribute


def referencing_columns(target: InstrumentedAttribute[int] | Column[int]) -> list[Column[int]]:
    """Every column with a foreign key to ``target``: tables in dependency order, columns
    in table order."""
    column = target if isinstance(target, Column) else target.property.columns[0]
    assert isinstance(column, Column)
    found: list[Column[int]] = []
    for table in column.table.metadata.sorted_tables:
        for candidate in table.columns:
            if any(fk.column is column for fk in candidate.foreign_keys):
                found.append(candidate)
    return found
