"""/events: push interactions, orders and memberships as they happen.

Each record carries its client event id (``external_id``, or ``order_id`` for orders)
with its ``source``; ingestion upserts on that key, so retrying a request after a timeout
stores each event once.
"""

from __future__ import annotations

from collections import deque
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import Engine

from kithkin.api.deps import CurrentUser, check_permission
from kithkin.auth.roles import Access, Area
from kithkin.config import Settings, settings_of
from kithkin.customers.scope import CustomerScope
from kithkin.database.core import session_scope
from kithkin.database.writelock import with_lock_retries
from kithkin.errors import ValidationError
from kithkin.fields import MAX_INT64, MIN_INT64
from kithkin.imports.ingest import pipeline as ingest_pipeline
from kithkin.imports.schemas import ImportReport, RejectedRow
from kithkin.loyalty import ledger as loyalty_ledger
from kithkin.loyalty import programme as loyalty_programme
from kithkin.playbooks import events as playbook_events

router = APIRouter(prefix="/events", tags=["events"])
MAX_BATCH = 10_000

EventKind = Literal["interactions", "transactions", "lines", "memberships"]
AREA_BY_KIND: dict[str, Area] = {
    "interactions": Area.INTERACTIONS, "transactions": Area.TRANSACTIONS,
    "lines": Area.TRANSACTIONS, "memberships": Area.MEMBERSHIPS,
}
Record = dict[str, Any]


def _int64_values(record: Record) -> Record:
    """Integers beyond 64 bits cannot be stored in any column; name the fields at once
    instead of letting the columnar reader overflow on them."""
    out_of_range: list[str] = []
    pending: deque[tuple[str, Any]] = deque(record.items())  # document order, O(1) pops
    while pending:
        name, value = pending.popleft()
        if isinstance(value, int) and not isinstance(value, bool) and \
                not MIN_INT64 <= value <= MAX_INT64:
            out_of_range.append(name)
        elif isinstance(value, dict):
            pending.extend((f"{name}.{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((f"{name}[{index}]", item) for index, item in enumerate(value))
    if out_of_range:
        raise ValueError(f"{', '.join(out_of_range)}: integer outside the signed 64-bit range")
    return record


# Validated as the request is parsed, so a bad value is a 422 naming its field.
CheckedRecord = Annotated[Record, AfterValidator(_int64_values)]


class Event(BaseModel):
    kind: EventKind
    record: CheckedRecord = Field(description="Columns as in the import file format of `kind`.")


class EventBatch(BaseModel):
    kind: EventKind
    records: Annotated[list[CheckedRecord], Field(min_length=1, max_length=MAX_BATCH)]


class EventResult(BaseModel):
    received: int
    accepted: int = Field(description="Stored or already stored (inserted+updated+unchanged).")
    inserted: int
    updated: int
    unchanged: int
    duplicates: int = Field(description="Superseded by a later record with the same id.")
    rejected: int
    rejects: list[RejectedRow] = Field(description="row = 1-based position in the batch.")


def _ingest(request: Request, user: CurrentUser, kind: str,
            records: list[Record], background: BackgroundTasks) -> EventResult:
    check_permission(request, user, AREA_BY_KIND[kind], Access.WRITE)
    CustomerScope.for_user(user).require_all("event ingestion")
    engine = request.app.state.engine
    settings = settings_of(request.app.state)
    report: ImportReport = with_lock_retries(engine, lambda: ingest_pipeline.ingest_records(
        kind=kind, records=records, engine=engine, settings=settings))
    if kind == "transactions" and report.rows_written:
        _grant_points(engine, settings, records)
    if kind in playbook_events.KINDS and report.inserted + report.updated:
        # the playbooks' event-fed rules, after the response (kithkin.playbooks.events)
        background.add_task(playbook_events.RUNS.request, engine, settings)
    return EventResult(
        received=len(records), accepted=report.rows_written, inserted=report.inserted,
        updated=report.updated, unchanged=report.unchanged, duplicates=report.duplicates,
        rejected=report.rows_rejected, rejects=report.rejects,
    )


def _grant_points(engine: Engine, settings: Settings, records: list[Record]) -> None:
    """Loyalty points for the orders just stored, at once (each order earns once)."""
    orders = [(str(r["source"]), str(r["order_id"])) for r in records
              if r.get("source") is not None and r.get("order_id") is not None]
    programme = loyalty_programme.load(settings.home)
    with_lock_retries(engine, lambda: _grant_in_session(engine, programme, orders))


def _grant_in_session(engine: Engine, programme: loyalty_programme.Programme,
                      orders: list[tuple[str, str]]) -> None:
    with session_scope(engine) as session:
        loyalty_ledger.grant_for_orders(session, programme, orders)


@router.post("", response_model=EventResult)
def ingest_event(event: Event, request: Request, user: CurrentUser,
                 background: BackgroundTasks) -> EventResult:
    """One event; a rejected event is a 422 naming the field and the reason."""
    result = _ingest(request, user, event.kind, [event.record], background)
    if result.rejects:
        reject = result.rejects[0]
        raise ValidationError(f"{reject.field}: {reject.reason}")
    return result


@router.post("/batch", response_model=EventResult)
def ingest_batch(batch: EventBatch, request: Request, user: CurrentUser,
                 background: BackgroundTasks) -> EventResult:
    """Up to 10,000 events of one kind; good ones are stored, bad ones listed."""
    return _ingest(request, user, batch.kind, batch.records, background)
