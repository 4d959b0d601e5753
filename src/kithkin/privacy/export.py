"""Right of access (GDPR art. 15): everything held about a person, as one JSON document.

The document is built from the schema, not from a list of features: every table with a
column pointing at ``customer.id`` (:func:`kithkin.privacy.rules.owned_tables`) is a
section, and every table pointing at one of those by its id (order lines under orders)
is a section too, so a table added later (loyalty ledger, ideas) appears without a
change here. The person is the whole merge cluster (:func:`kithkin.privacy.erasure.cluster`):
records merged into the one asked for hold their data too.

The layout is versioned (:data:`SCHEMA_VERSION`, described in docs/privacy.md). Values
are made JSON-safe one way for every table: datetimes and dates as ISO 8601, decimals as
strings, NaN as null and infinities as the strings "Infinity"/"-Infinity", text that is
not valid Unicode with replacement characters, so a customer with odd data exports too.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Column, Table, or_, select
from sqlalchemy.orm import Session

from kithkin import __version__
from kithkin.customers.models import Customer
from kithkin.database.base import utcnow
from kithkin.database.references import referencing_columns
from kithkin.identity.models import CustomerMerge
from kithkin.privacy import rules
from kithkin.privacy.erasure import cluster
from kithkin.privacy.models import Erasure

SCHEMA = "kithkin.customer-export"
SCHEMA_VERSION = "1.0"
TEMPLATES = Path(__file__).parent / "templates"


def _other_side(row: dict[str, Any], ids: frozenset[int]) -> dict[str, Any]:
    """A duplicate pair names a second customer: another person unless merged here."""
    for name in ("customer_id_l", "customer_id_r"):
        if row.get(name) not in ids:
            row[name] = None
    return row


# Per-table redaction of exported rows: what names someone other than the person.
REDACT: dict[str, Callable[[dict[str, Any], frozenset[int]], dict[str, Any]]] = {
    "duplicate_candidate": _other_side,
}


def jsonable(value: Any) -> Any:
    """One value as JSON can carry it (see the module docstring)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def _rows(session: Session, table: Table, column: Column[Any], ids: list[int]
          ) -> list[dict[str, Any]]:
    order = list(table.primary_key.columns) or [column]
    result = session.execute(select(table).where(column.in_(ids)).order_by(*order))
    return [{k: jsonable(v) for k, v in row._mapping.items()} for row in result]


def export(*, session: Session, customer_id: int) -> dict[str, Any]:
    """The export document of the person behind ``customer_id`` (NotFoundError when the
    id is unknown)."""
    ids = cluster(session=session, customer_id=customer_id)
    frozen = frozenset(ids)
    customer_table = Customer.__table__
    assert isinstance(customer_table, Table)
    sections: dict[str, list[dict[str, Any]]] = {}
    for owned in rules.owned_tables():
        rows = _rows(session, owned.table, owned.column, ids)
        redact = REDACT.get(owned.table.name)
        if redact is not None:
            rows = [redact(row, frozen) for row in rows]
        existing = sections.setdefault(owned.table.name, [])
        seen = {r.get("id") for r in existing}
        existing.extend(r for r in rows if r.get("id") is None or r.get("id") not in seen)
    for name, rows in list(sections.items()):
        _add_children(session, Customer.metadata.tables[name], rows, sections)
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generator": f"kithkin {__version__}",
        "exported_at": utcnow().isoformat(),
        "customer_id": customer_id,
        "records": ids,
        "profile": _rows(session, customer_table, customer_table.c.id, ids),
        "sections": dict(sorted(sections.items())),
        "merge_log": _merge_log(session, frozen),
        "erasures": [{"id": e.id, "customer_ids": e.customer_ids, "actor": e.actor,
                      "erased_at": jsonable(e.erased_at)}
                     for e in session.scalars(select(Erasure).where(
                         Erasure.customer_id.in_(ids)).order_by(Erasure.id))],
    }


def _add_children(session: Session, parent: Table, rows: list[dict[str, Any]],
                  sections: dict[str, list[dict[str, Any]]]) -> None:
    """Rows of tables that point at ``parent`` rows by id (lines of orders)."""
    if "id" not in parent.c or not rows:
        return
    parent_ids = [row["id"] for row in rows]
    for column in referencing_columns(parent.c.id):
        child = column.table
        if not isinstance(child, Table) or child.name in sections or child.name == parent.name:
            continue
        found: list[dict[str, Any]] = []
        for start in range(0, len(parent_ids), 500):
            found += _rows(session, child, column, parent_ids[start:start + 500])
        sections[child.name] = found


def _merge_log(session: Session, ids: frozenset[int]) -> list[dict[str, Any]]:
    """Merges of the person's records; before-images only of the person's own rows."""
    entries = []
    for merge in session.scalars(select(CustomerMerge).where(or_(
            CustomerMerge.survivor_id.in_(ids), CustomerMerge.merged_id.in_(ids)))
            .order_by(CustomerMerge.id)):
        changes = []
        for change in merge.changes or []:
            row = change.get("row", {})
            owner = row.get("id") if change.get("table") == "customer" else row.get("customer_id")
            changes.append(change if owner in ids else
                           {"table": change.get("table"), "op": change.get("op"),
                            "omitted": "a row of another customer"})
        entries.append({"id": merge.id, "survivor_id": merge.survivor_id,
                        "merged_id": merge.merged_id, "actor": merge.actor,
                        "reason": merge.reason, "merged_at": jsonable(merge.merged_at),
                        "undone_at": jsonable(merge.undone_at), "undone_by": merge.undone_by,
                        "changes": jsonable(changes)})
    return entries


_environment = Environment(loader=FileSystemLoader(TEMPLATES),
                           autoescape=select_autoescape(default=True))


def to_html(document: Mapping[str, Any]) -> str:
    """The same document, readable: one table per section (a person reads this one)."""
    return _environment.get_template("export.html").render(doc=document)
