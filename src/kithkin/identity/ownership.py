"""Which tables hold rows that belong to a customer, and what a merge does with them.

Every table with a foreign key to ``customer.id`` is found in the model metadata, so a
domain added later (tasks, stage history) is moved by a merge without touching this
module. A table whose rows must not move (derived data that a refresh recomputes) is
registered with :data:`OwnedTablePolicy.KEEP` by :func:`register_customer_owned_table`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Column, Table, UniqueConstraint

from kithkin.customers.models import Customer
from kithkin.database import registry  # noqa: F401 - fills Base.metadata
from kithkin.database.references import referencing_columns


class OwnedTablePolicy(StrEnum):
    MOVE = "move"  # re-point rows to the survivor (the default)
    KEEP = "keep"  # leave rows on the merged record (derived data, recomputed later)


# Tables identity itself manages: candidates and the merge log are never moved.
_IDENTITY_TABLES = frozenset({"duplicate_candidate", "customer_merge", "identity_run"})

_POLICIES: dict[str, OwnedTablePolicy] = {
    # Metrics are per (as_of, customer); the next refresh computes the merged customer's.
    "customer_metric": OwnedTablePolicy.KEEP,
}


def register_customer_owned_table(table_name: str, *, policy: OwnedTablePolicy) -> None:
    """Override how a merge treats one table's rows (default: move them to the survivor)."""
    _POLICIES[table_name] = policy


@dataclass(frozen=True)
class OwnedColumn:
    """A column naming a customer, and the unique keys a move could collide on."""

    table: Table
    column: Column[int]
    # Other columns of each unique constraint that includes ``column``.
    unique_partners: tuple[tuple[str, ...], ...]
    # Column deciding which of two colliding rows is newer (kept), if the table has one.
    recency_column: str | None


def owned_columns() -> list[OwnedColumn]:
    """Every customer-owned column a merge moves, in dependency order."""
    found: list[OwnedColumn] = []
    for column in referencing_columns(Customer.id):
        table = column.table
        if table.name in _IDENTITY_TABLES:
            continue
        if _POLICIES.get(table.name, OwnedTablePolicy.MOVE) is OwnedTablePolicy.KEEP:
            continue
        partners = tuple(
            tuple(c.name for c in constraint.columns if c.name != column.name)
            for constraint in table.constraints
            if isinstance(constraint, UniqueConstraint) and column.name in constraint.columns
        )
        recency = next(
            (name for name in ("updated_at", "created_at") if name in table.columns), None
        )
        found.append(OwnedColumn(table, column, partners, recency))
    return found
