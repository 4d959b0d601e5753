"""The At risk page (customers ranked by value at risk, filterable, CSV export) and the
"Who is leaving" section of the customer 360 page (defection stage with its evidence,
P(alive) with the model that gave it)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from kithkin.analytics import service as metrics_service
from kithkin.api.deps import CustomerScopeDep, SessionDep
from kithkin.atrisk import service
from kithkin.atrisk.rules import STAGE_LABELS, STAGES
from kithkin.config import Settings
from kithkin.customers.models import Customer
from kithkin.dashboard import navigation, sections
from kithkin.dashboard.web import PageRoute, render, require_page
from kithkin.users import service as user_service
from kithkin.users.models import StaffUser

AT_RISK = navigation.register_page(navigation.Page("at_risk", "At risk", "/at-risk",
                                                   navigation.EVERYONE, order=25))
PAGE_SIZE = 50
router = APIRouter(route_class=PageRoute, include_in_schema=False)
AtRiskUser = Annotated[StaffUser, Depends(require_page(AT_RISK.key))]


def _filters(stage: str, segment: str, level: str, manager: str) -> dict[str, Any]:
    return {"stage": stage or None, "segment": segment or None, "level": level or None,
            "account_manager_id": int(manager) if manager.isdigit() and len(manager) < 12
            else None}


@router.get("/at-risk")
def at_risk(request: Request, session: SessionDep, user: AtRiskUser, scope: CustomerScopeDep,
            stage: str = "", segment: str = "", level: str = "", manager: str = "",
            page: int = 1) -> Response:
    page = min(max(page, 1), 200_000)
    listed = service.at_risk_list(session=session, **_filters(stage, segment, level, manager),
                                  scope=scope, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    managers = ([u for u in user_service.list_users(session=session) if u.is_active]
                if scope.everyone else [])
    errors = ((metrics_service.model_error(session=session, as_of=listed.as_of),
               metrics_service.at_risk_error(session=session, as_of=listed.as_of))
              if listed.as_of else (None, None))
    return render(request, "at_risk.html", user=user, active=AT_RISK.key, listed=listed,
                  model_error=errors[0], at_risk_error=errors[1],
                  stages=[(s, STAGE_LABELS[s]) for s in STAGES], managers=managers,
                  chosen={"stage": stage, "segment": segment, "level": level,
                          "manager": manager},
                  page=page, pages=max(1, -(-listed.total // PAGE_SIZE)),
                  query=urlencode({k: v for k, v in {"stage": stage, "segment": segment,
                                                      "level": level, "manager": manager}
                                   .items() if v}))


@router.get("/at-risk.csv")
def at_risk_csv(session: SessionDep, _: AtRiskUser, scope: CustomerScopeDep,
                stage: str = "", segment: str = "", level: str = "",
                manager: str = "") -> Response:
    text = "".join(service.at_risk_csv(session=session, **_filters(stage, segment, level,
                                                                    manager), scope=scope))
    return Response(text, media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="at-risk.csv"'})


def _defection(session: Session, customer_id: int, _settings: Settings) -> Any | None:
    """The section's data: None before any refresh or for a customer without one."""
    if session.get(Customer, customer_id) is None:
        return None
    status = service.status(session=session, customer_id=customer_id)
    return None if status.as_of is None else {"status": status, "labels": STAGE_LABELS}


sections.register_customer_section(sections.CustomerSection(
    key="defection", title="Who is leaving", template="_customer_defection.html",
    loader=_defection, order=20))
