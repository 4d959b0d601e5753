"""Generic change capture: SQLAlchemy session events write the audit rows, so no domain
service has to remember to call the audit (docs/audit.md, "How changes are captured").

- ``before_flush`` notes every inserted, updated and deleted ORM object with the fields
  that changed (before and after); ``after_flush`` writes the rows, once new objects have
  their ids, on the same connection and in the same transaction: a change and its audit
  row commit or roll back together.
- A flush that inserts, updates or deletes more than :data:`BULK_THRESHOLD` rows of one
  table records one summary row for them (an import or a refresh must not double its
  own write volume); the summary names the table, the count and the fields changed.
- ``do_orm_execute`` records a summary row for set-based ORM ``update``/``delete``/
  ``insert`` statements run through a session (the rows are not loaded, so there are no
  before-images; the statement's table and criteria are recorded).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, event, insert, inspect
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from kithkin.audit import context as audit_context
from kithkin.audit.models import AuditKind, AuditLog, AuditScrubGrant

BULK_THRESHOLD = 200
MAX_VALUE_CHARS = 1000
REDACTED = "[redacted]"
# Secrets never enter the trail: only the fact that they changed.
SECRET_FIELDS = frozenset({"password_hash", "key_hash", "token_hash"})
# Bookkeeping stamps written on reads (sign-in activity, key use): not changes by anyone.
IGNORED_FIELDS = frozenset({"last_seen_at", "last_used_at", "updated_at"})
_SKIPPED_TABLES = frozenset({AuditLog.__tablename__, AuditScrubGrant.__tablename__})
_PENDING_KEY = "kithkin_audit_pending"


def json_value(value: Any) -> Any:
    """A JSON-safe, bounded copy of a column value."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, enum.Enum):
        return json_value(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict | list | tuple):
        text = repr(value)
        if len(text) <= MAX_VALUE_CHARS:
            try:
                import json

                return json.loads(json.dumps(value, default=str))
            except (TypeError, ValueError):
                return text
        return text[:MAX_VALUE_CHARS] + "…"
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"


def _value(name: str, value: Any) -> Any:
    return REDACTED if name in SECRET_FIELDS and value is not None else json_value(value)


@dataclass
class _Pending:
    obj: Any
    action: str
    changes: dict[str, list[Any]]


@dataclass
class _Flush:
    rows: list[_Pending] = field(default_factory=list)
    # (table, action) -> (rows, fields changed): flushes too large to record row by row.
    bulk: dict[tuple[str, str], tuple[int, list[str]]] = field(default_factory=dict)


def _columns(obj: Any) -> list[str]:
    return [attr.key for attr in inspect(obj).mapper.column_attrs]


def _table(obj: Any) -> str | None:
    table = getattr(inspect(obj).mapper.local_table, "name", None)
    return None if table in _SKIPPED_TABLES else table


def _updated_fields(obj: Any) -> dict[str, list[Any]]:
    state = inspect(obj)
    changes: dict[str, list[Any]] = {}
    for name in _columns(obj):
        if name in IGNORED_FIELDS:
            continue
        history = state.attrs[name].history
        if not history.has_changes():
            continue
        before = history.deleted[0] if history.deleted else None
        after = history.added[0] if history.added else None
        if before == after and not history.deleted:
            # Unloaded before-image (expired attribute): the old value is unknown.
            before = None
        if before != after:
            changes[name] = [_value(name, before), _value(name, after)]
    return changes


def _all_fields(obj: Any, *, before: bool) -> dict[str, list[Any]]:
    state = inspect(obj)
    result: dict[str, list[Any]] = {}
    for name in _columns(obj):
        value = state.dict.get(name) if before else getattr(obj, name, None)
        if value is None:
            continue
        result[name] = [_value(name, value), None] if before else [None, _value(name, value)]
    return result


def _by_table(objects: Any) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for obj in objects:
        table = _table(obj)
        if table is not None:
            grouped.setdefault(table, []).append(obj)
    return grouped


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    pending = _Flush()
    for action, objects in (("insert", session.new), ("update", session.dirty),
                            ("delete", session.deleted)):
        for table, rows in _by_table(objects).items():
            if action == "update":
                changed = [(obj, _updated_fields(obj)) for obj in rows
                           if session.is_modified(obj, include_collections=False)]
                changed = [(obj, changes) for obj, changes in changed if changes]
            else:
                changed = [(obj, {} if action == "insert" else _all_fields(obj, before=True))
                           for obj in rows]
            if len(changed) > BULK_THRESHOLD:
                fields = sorted({name for _, changes in changed for name in changes})
                pending.bulk[(table, action)] = (len(changed), fields)
            else:
                pending.rows.extend(_Pending(obj, action, changes) for obj, changes in changed)
    if pending.rows or pending.bulk:
        session.info.setdefault(_PENDING_KEY, []).append(pending)


def _customer_of(table: str, obj: Any, entity_id: str | None) -> int | None:
    if table == "customer" and entity_id is not None and entity_id.isdigit():
        return int(entity_id)
    for name in ("customer_id", "converted_customer_id"):  # a converted prospect too
        value = getattr(obj, name, None)
        if isinstance(value, int):
            return value
    return None


_AUDITED_STORES: set[str] = set()


def store_is_audited(connection: Connection) -> bool:
    """Whether the store has the audit table (every migrated store does). Only a yes is
    remembered, so a store migrated later in the process is audited from then on; a
    foreign database driven through an ORM session (a test's own metadata) is left be."""
    key = connection.engine.url.render_as_string(hide_password=True)
    if key in _AUDITED_STORES:
        return True
    if inspect(connection).has_table(AuditLog.__tablename__):
        _AUDITED_STORES.add(key)
        return True
    return False


def base_row(kind: str) -> dict[str, Any]:
    """The actor columns of a new audit row, from the current context."""
    ctx = audit_context.current()
    user_id, label, key_id = ctx.actor()
    return {"at": datetime.now().astimezone(), "kind": kind, "source": ctx.source,
            "actor_user_id": user_id, "actor_label": label, "api_key_id": key_id,
            "ip": ctx.ip, "request_id": ctx.request_id, "method": ctx.method,
            "path": ctx.path, "scrubbed": False}


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    batches: list[_Flush] = session.info.pop(_PENDING_KEY, [])
    rows: list[dict[str, Any]] = []
    for pending in batches:
        for item in pending.rows:
            table = _table(item.obj) or ""
            state = inspect(item.obj)
            # The identity key is set only after the flush; the primary key is known now.
            identity = state.mapper.primary_key_from_instance(item.obj)
            entity_id = (None if any(part is None for part in identity)
                         else ",".join(str(part) for part in identity))
            changes = item.changes or _all_fields(item.obj, before=False)
            rows.append({**base_row(AuditKind.CHANGE), "entity": table,
                         "entity_id": entity_id, "action": item.action, "changes": changes,
                         "customer_id": _customer_of(table, item.obj, entity_id),
                         "summary": None})
        for (table, action), (count, fields) in pending.bulk.items():
            detail = f" ({', '.join(fields)})" if action == "update" else ""
            # the same keys as a change row: one executemany takes them together
            rows.append({**base_row(AuditKind.BULK), "entity": table, "entity_id": None,
                         "action": action, "changes": None, "customer_id": None,
                         "summary": f"{action} of {count} rows of {table}{detail}"})
    if rows and store_is_audited(session.connection()):
        session.connection().execute(insert(AuditLog), rows)


@event.listens_for(Session, "do_orm_execute")
def _set_based_write(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    mapper = state.bind_mapper
    table = getattr(getattr(mapper, "local_table", None), "name", None)
    if table is None or table in _SKIPPED_TABLES:
        return
    statement = state.statement
    if state.is_update:
        values = getattr(statement, "_values", None) or {}
        names = sorted(getattr(key, "key", str(key)) for key in values)
        if names and set(names) <= IGNORED_FIELDS | {"revoked_at"} and table == "staff_session":
            action = "end_sessions"
        else:
            action = "update"
        summary = f"set-based update of {table} setting {', '.join(names) or 'values'}"
    elif state.is_delete:
        action, summary = "delete", f"set-based delete from {table}"
    else:
        action, summary = "insert", f"set-based insert into {table}"
    where = getattr(statement, "whereclause", None)
    if where is not None:
        summary += f" where {where.compile(compile_kwargs={'literal_binds': False})}"
    connection = state.session.connection()
    if not store_is_audited(connection):
        return
    connection.execute(
        insert(AuditLog), [{**base_row(AuditKind.BULK), "entity": table, "action": action,
                            "summary": summary[:2000]}])
