"""The audit trail page (admins): filter by actor, kind, table, action and path, page
back in time, and download the same filter as CSV (GET /api/v1/audit/export.csv)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from kithkin.api.deps import SessionDep
from kithkin.audit import service as audit_service
from kithkin.audit.router import FilterDep
from kithkin.dashboard import navigation
from kithkin.dashboard.web import PageRoute, render, require_page
from kithkin.users.models import StaffUser

AUDIT = navigation.register_page(
    navigation.Page("audit", "Audit trail", "/admin/audit", navigation.ADMIN_ONLY, order=95))
router = APIRouter(prefix="/admin", route_class=PageRoute, include_in_schema=False)
AuditAdmin = Annotated[StaffUser, Depends(require_page(AUDIT.key))]
PAGE_SIZE = 100


@router.get("/audit")
def audit_page(request: Request, session: SessionDep, user: AuditAdmin, where: FilterDep,
               before_id: Annotated[int | None, Query(ge=1)] = None) -> Response:
    rows = audit_service.list_entries(session=session, where=where, limit=PAGE_SIZE,
                                      before_id=before_id)
    query = {key: value for key, value in request.query_params.items()
             if key != "before_id" and value}
    older = (f"?{urlencode({**query, 'before_id': rows[-1].id})}"
             if len(rows) == PAGE_SIZE else None)
    return render(request, "audit.html", user=user, active="audit", rows=rows,
                  filters=query, older=older,
                  csv_url=f"/api/v1/audit/export.csv?{urlencode(query)}",
                  total=audit_service.count_entries(session=session, where=where))
