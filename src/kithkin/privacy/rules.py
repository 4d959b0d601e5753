"""Which rows belong to a customer, and what erasure does to each table's columns.

Both the export and the erasure start from "every table that points at a customer"
(:func:`kithkin.database.references.referencing_columns`), so a table added by a later
feature (loyalty ledger, ideas) is exported and scrubbed without a change here. The
rules below only name the exceptions: derived tables whose text is computed evidence
(kept, so stage history and health stay explainable), and tables whose short strings
carry personal text (scrubbed although they are not ``Text``).

Default erasure rule for any other customer-owned table: every nullable ``Text``, JSON
or long (200+ characters) string column is set to NULL. Non-null columns are left,
because a NOT NULL column is a key, a code or a status, not something a person wrote,
except where :data:`REPLACE` says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import JSON, Column, String, Table, Text

from kithkin.customers.models import Customer
from kithkin.database.references import referencing_columns

# Derived from numbers and codes by the analytics and relationship engines: no free text.
KEEP_TABLES = frozenset({"consent", "customer_metric", "customer_stage", "stage_change",
                         "relationship_profile", "transaction", "duplicate_candidate"})
# Tables whose personal columns are listed (the default rule is not applied to them: an
# interaction's tags and a message's template name are what analytics count).
SCRUB: dict[str, tuple[str, ...]] = {
    "interaction": ("subject", "text", "attributes"),
    "message": ("recipient", "subject", "body", "context", "last_error"),
    "task": ("details", "outcome"),
    "consent_event": ("evidence",),
    "membership": ("attributes",),
}
# Non-null columns holding personal text: replaced, not nulled.
REPLACE: dict[str, dict[str, str]] = {
    "task": {"title": "(erased)"},
    "idea": {"title": "(erased)", "body": "(erased)"},
    "idea_comment": {"body": "(erased)"},
}
# Deleted outright: identities and remembered preferences are what erasure must remove.
DELETE_TABLES = frozenset({"customer_identifier", "customer_preference"})
# Handled by their own code (the customer row, converted prospects).
SPECIAL = frozenset({"customer", "prospect"})
ERASED_TEXT = "(erased)"


@dataclass(frozen=True)
class Owned:
    """A table with a column pointing at ``customer.id``."""

    table: Table
    column: Column[int]


def owned_tables() -> Iterator[Owned]:
    """Every (table, column) pointing at a customer, except the self-reference of a
    merged record (``merged_into_id``), which the merge cluster covers."""
    for column in referencing_columns(Customer.id):
        if isinstance(column.table, Table) and column.table.name != "customer":
            yield Owned(column.table, column)


def scrub_columns(table: Table) -> dict[str, str | None]:
    """Column -> value erasure writes in ``table`` (empty: the table is kept as is)."""
    name = table.name
    if name in KEEP_TABLES or name in SPECIAL or name in DELETE_TABLES:
        return {}
    values: dict[str, str | None] = dict.fromkeys(SCRUB.get(name, ()))
    for column in () if name in SCRUB else table.columns:
        if column.primary_key or column.foreign_keys or not column.nullable:
            continue
        if isinstance(column.type, Text | JSON) or (
                isinstance(column.type, String) and (column.type.length or 0) >= 200):
            values.setdefault(column.name, None)
    values.update(REPLACE.get(name, {}))
    return values
