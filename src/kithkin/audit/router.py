"""/audit: the trail, filtered and paged newest first, and its CSV export (admins)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from kithkin.api.deps import SessionDep, require_permission
from kithkin.api.pagination import MAX_LIMIT
from kithkin.api.params import IdQuery
from kithkin.audit import service as audit_service
from kithkin.audit.schemas import AuditPage, AuditRead
from kithkin.auth.roles import Access, Area
from kithkin.fields import IsoDatetime
from kithkin.users.models import StaffUser

router = APIRouter(prefix="/audit", tags=["audit"])
AuditReader = Annotated[StaffUser, Depends(require_permission(Area.AUDIT, Access.READ))]


def audit_filter(
    actor_user_id: IdQuery = None,
    actor: Annotated[str | None, Query(max_length=320,
                                       description="Part of the actor's label.")] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    entity: Annotated[str | None, Query(max_length=64, description="A table name.")] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    path: Annotated[str | None, Query(max_length=500, description="Part of the path.")] = None,
    since: Annotated[IsoDatetime | None, Query(description="From this ISO time.")] = None,
    until: Annotated[IsoDatetime | None, Query(description="Before this ISO time.")] = None,
) -> audit_service.AuditFilter:
    since, until = (None if t is None else t if t.tzinfo else t.replace(tzinfo=UTC)
                    for t in (since, until))  # a time without zone is read as UTC
    return audit_service.AuditFilter(
        actor_user_id=actor_user_id, actor=actor, kind=kind, entity=entity,
        entity_id=entity_id, action=action, path=path, since=since, until=until)


FilterDep = Annotated[audit_service.AuditFilter, Depends(audit_filter)]


@router.get("", response_model=AuditPage)
def list_audit(session: SessionDep, _: AuditReader, where: FilterDep,
               limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
               before_id: IdQuery = None) -> AuditPage:
    """Newest first; the next page starts below ``next_before_id``."""
    rows = audit_service.list_entries(session=session, where=where, limit=limit,
                                      before_id=before_id)
    return AuditPage(items=[AuditRead.model_validate(row) for row in rows],
                     next_before_id=rows[-1].id if len(rows) == limit else None)


class CsvResponse(StreamingResponse):
    media_type = "text/csv"


@router.get("/export.csv", response_class=CsvResponse)
def export_audit(request: Request, _: AuditReader, where: FilterDep) -> CsvResponse:
    """The filtered trail as CSV, oldest first, streamed (the export is itself audited)."""
    factory = request.app.state.session_factory

    def chunks() -> Iterator[str]:
        with factory() as session:
            yield from audit_service.iter_csv(session=session, where=where)

    return CsvResponse(chunks(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="audit.csv"'})
