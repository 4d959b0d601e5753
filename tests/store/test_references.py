"""One answer to "which columns point at a customer", shared by export and merge."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table

from kithkin.customers.models import Customer
from kithkin.database.references import referencing_columns
from kithkin.identity import ownership
from kithkin.privacy import rules as privacy_rules


def test_columns_pointing_at_a_table_in_dependency_then_column_order() -> None:
    metadata = MetaData()
    parent = Table("parent", metadata, Column("id", Integer, primary_key=True))
    Table("other", metadata, Column("id", Integer, primary_key=True))
    child = Table("child", metadata, Column("id", Integer, primary_key=True),
                  Column("owner_id", ForeignKey("parent.id")),
                  Column("other_id", ForeignKey("other.id")),
                  Column("helper_id", ForeignKey("parent.id")))
    grandchild = Table("grandchild", metadata, Column("id", Integer, primary_key=True),
                       Column("child_id", ForeignKey("child.id")),
                       Column("parent_id", ForeignKey("parent.id")))
    assert referencing_columns(parent.c.id) == [
        child.c.owner_id, child.c.helper_id, grandchild.c.parent_id]


def test_export_and_merge_read_the_same_references_to_a_customer() -> None:
    every = [(c.table.name, c.name) for c in referencing_columns(Customer.id)]
    assert {("customer", "merged_into_id"), ("prospect", "converted_customer_id"),
            ("customer_identifier", "customer_id"), ("customer_metric", "customer_id"),
            ("customer_stage", "customer_id")} <= set(every)
    exported = [(o.table.name, o.column.name) for o in privacy_rules.owned_tables()]
    assert exported == [pair for pair in every if pair[0] != "customer"]
    moved = [(c.table.name, c.column.name) for c in ownership.owned_columns()]
    # Metrics stay on the merged record (the next refresh recomputes them).
    assert moved == [pair for pair in every if pair[0] != "customer_metric"
                     and pair[0] not in {"duplicate_candidate", "customer_merge"}]
