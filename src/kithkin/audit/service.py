"""Writing, reading, exporting and (for erasure only) scrubbing the audit trail."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from kithkin.audit import guard
from kithkin.audit.capture import base_row
from kithkin.audit.models import AuditKind, AuditLog
from kithkin.customers.models import Customer
from kithkin.database.references import referencing_columns
from kithkin.identity.models import CustomerMerge

ERASED = "[erased]"
CSV_COLUMNS = ("id", "at", "kind", "source", "actor_user_id", "actor_label", "api_key_id",
               "ip", "request_id", "method", "path", "status", "entity", "entity_id",
               "action", "changes", "summary", "customer_id", "scrubbed")


def record(*, session: Session | Connection, kind: str, action: str,
           summary: str | None = None, entity: str | None = None,
           entity_id: str | None = None, changes: dict[str, Any] | None = None,
           extra: dict[str, Any] | None = None) -> None:
    """Append one row naming the current actor (for events no ORM flush shows: a policy
    run, a backup, a CLI export)."""
    row = {**base_row(kind), "action": action, "summary": summary, "entity": entity,
           "entity_id": entity_id, "changes": changes, **(extra or {})}
    session.execute(insert(AuditLog), [row])


@dataclass(frozen=True)
class AuditFilter:
    """Every field narrows the result; None means any."""

    actor_user_id: int | None = None
    actor: str | None = None  # substring of the actor label (email, cli:user)
    kind: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    action: str | None = None
    path: str | None = None  # substring
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        exact = {AuditLog.actor_user_id: self.actor_user_id, AuditLog.kind: self.kind,
                 AuditLog.entity: self.entity, AuditLog.entity_id: self.entity_id,
                 AuditLog.action: self.action}
        for column, value in exact.items():
            if value is not None and value != "":
                query = query.where(column == value)
        if self.actor:
            query = query.where(AuditLog.actor_label.contains(self.actor, autoescape=True))
        if self.path:
            query = query.where(AuditLog.path.contains(self.path, autoescape=True))
        if self.since is not None:
            query = query.where(AuditLog.at >= self.since)
        if self.until is not None:
            query = query.where(AuditLog.at < self.until)
        return query


def list_entries(*, session: Session, where: AuditFilter = AuditFilter(),
                 limit: int = 100, before_id: int | None = None) -> Sequence[AuditLog]:
    """Newest first; page with ``before_id`` (the last id of the previous page)."""
    query = where.apply(select(AuditLog))
    if before_id is not None:
        query = query.where(AuditLog.id < before_id)
    return session.scalars(query.order_by(AuditLog.id.desc()).limit(limit)).all()


def count_entries(*, session: Session, where: AuditFilter = AuditFilter()) -> int:
    return int(session.scalar(where.apply(select(func.count()).select_from(AuditLog))) or 0)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else value


def iter_csv(*, session: Session, where: AuditFilter = AuditFilter(),
             chunk: int = 1000) -> Iterator[str]:
    """The filtered trail as CSV text chunks, oldest first (streamed: the trail grows
    without bound)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    last_id = 0
    while True:
        rows = session.scalars(where.apply(select(AuditLog)).where(AuditLog.id > last_id)
                               .order_by(AuditLog.id).limit(chunk)).all()
        for row in rows:
            writer.writerow([_cell(getattr(row, name)) for name in CSV_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < chunk:
            return
        last_id = rows[-1].id


def _scrubbed(changes: dict[str, Any] | None) -> dict[str, Any] | None:
    if not changes:
        return changes
    return {name: [None if pair[0] is None else ERASED, None if pair[1] is None else ERASED]
            if isinstance(pair, list) and len(pair) == 2 else ERASED
            for name, pair in changes.items()}


def _rows_pointing_at(connection: Connection, customer_id: int) -> list[ColumnElement[bool]]:
    """Audit rows about rows of other tables that point at the customer without a
    ``customer_id`` column (a merge's survivor and merged ids, a converted prospect):
    their before-images hold the customer's values too."""
    conditions: list[ColumnElement[bool]] = []
    # A merge names its customers without foreign keys (an undo must survive deletes).
    merge = CustomerMerge.__table__.c
    columns = [*referencing_columns(Customer.id), merge.survivor_id, merge.merged_id]
    for column in columns:
        table = column.table
        if column.name == "customer_id" or not isinstance(table, Table) \
                or table.name in {"customer", "audit_log"}:
            continue
        keys = list(table.primary_key.columns)
        if len(keys) != 1:
            continue
        found: Sequence[Any] = connection.scalars(
            select(keys[0]).where(column == customer_id)).all()
        ids = [str(i) for i in found]
        if ids:
            conditions.append((AuditLog.entity == table.name) & AuditLog.entity_id.in_(ids))
    return conditions


def scrub_customer(session: Session, customer_id: int) -> int:
    """Replace the before/after values of every audit row about ``customer_id`` by
    ``[erased]`` (field names, actors and times stay); returns how many rows changed.

    The one exception to append-only, for erasure: call it in the erasure's transaction
    after the erasure flushed (its own audit rows then carry the erased values too). It
    opens the privileged path of :mod:`kithkin.audit.guard` for this transaction only, and
    records that it ran (without values).
    """
    session.flush()
    connection = session.connection()
    rows = connection.execute(
        select(AuditLog.id, AuditLog.changes).where(
            or_(AuditLog.customer_id == customer_id,
                (AuditLog.entity == "customer") & (AuditLog.entity_id == str(customer_id)),
                *_rows_pointing_at(connection, customer_id)),
            AuditLog.changes.is_not(None), AuditLog.scrubbed.is_(False))).all()
    guard.begin_scrub(connection, customer_id)
    try:
        for row_id, changes in rows:
            connection.execute(update(AuditLog).where(AuditLog.id == row_id)
                               .values(changes=_scrubbed(cast(dict[str, Any] | None, changes)),
                                       scrubbed=True))
    finally:
        guard.end_scrub(connection)
    record(session=connection, kind=AuditKind.CHANGE, action="scrub", entity="customer",
           entity_id=str(customer_id),
           summary=f"erasure scrubbed the values of {len(rows)} audit row(s)",
           extra={"customer_id": customer_id})
    return len(rows)
