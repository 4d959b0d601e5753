"""Customer list (search, filters, sorts, keyset pages) and the customer 360 page (every
role)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from kithkin.analytics import service as metrics_service
from kithkin.api.deps import CustomerScopeDep, SessionDep, SettingsDep
from kithkin.api.params import IdPath
from kithkin.config import Settings, settings_of
from kithkin.customers import listing, search
from kithkin.customers import service as customer_service
from kithkin.customers.models import Channel
from kithkin.dashboard import charts, navigation, sections
from kithkin.dashboard import service as dashboard_service
from kithkin.dashboard.customer_connections import load as _connections  # noqa: F401
from kithkin.dashboard.customer_loyalty import load as _loyalty  # noqa: F401
from kithkin.dashboard.customer_offers import load as _offers  # noqa: F401
from kithkin.dashboard.navigation import OPERATIONS, Page, register_page
from kithkin.dashboard.pages_customer_work import customer_work
from kithkin.dashboard.web import PageRoute, flash, render, require_page
from kithkin.errors import KithkinError, NotFoundError
from kithkin.relationships import service as relationships_service
from kithkin.relationships.models import RelationshipProfile
from kithkin.relationships.schemas import CustomerExplanation
from kithkin.relationships.workspace import get_model
from kithkin.users import service as user_service
from kithkin.users.models import Role, StaffUser

# Who looks after a customer is a manager's decision; agents see only their own book.
ASSIGN = register_page(Page("customers-assign", "Assign account managers", "/customers",
                            OPERATIONS, in_nav=False))

router = APIRouter(route_class=PageRoute, include_in_schema=False)

CustomersUser = Annotated[StaffUser, Depends(require_page(navigation.CUSTOMERS.key))]
AssignUser = Annotated[StaffUser, Depends(require_page(ASSIGN.key))]


def _relationship(session: Session, settings: Settings,
                  customer_id: int) -> CustomerExplanation | None:
    """Stages, health and bonds when the relationship engine has assessed the customer."""
    try:
        return relationships_service.explain(session=session, settings=settings,
                                             customer_id=customer_id)
    except NotFoundError:
        return None


# The sort choices of the customers page: (value, label).
SORTS = (("id", "Customer number"), ("-clv", "CLV, highest first"),
         ("clv", "CLV, lowest first"), ("p_alive", "P(alive), lowest first"),
         ("-p_alive", "P(alive), highest first"), ("last_name", "Name, A to Z"),
         ("-last_order", "Last order, newest first"), ("last_order", "Last order, oldest first"))
_RISK = {"yes": True, "no": False}


@router.get("/customers")
def customers(request: Request, session: SessionDep, settings: SettingsDep,
              user: CustomersUser, scope: CustomerScopeDep, q: str = "", stage: str = "",
              tier: str = "", at_risk: str = "", manager: str = "", sort: str = "id",
              cursor: str | None = None) -> Response:
    """Search, filter and sort the customers; every choice is a link (GET parameters)."""
    model = listing.default_stage_model(home=settings.home)
    manager_id = int(manager) if manager.isdigit() and scope.everyone else None
    searching = bool(q.strip())
    chosen = {"q": q, "stage": stage, "tier": tier, "at_risk": at_risk,
              "manager": str(manager_id or ""), "sort": "id" if searching else sort}
    found = listing.list_customers(
        session=session, scope=scope, limit=search.PAGE_SIZE, after=cursor,
        sort=chosen["sort"], cursor_field="cursor", stage_model=model,
        filters=listing.CustomerFilters(
            q=q, stage=stage or None, stage_model=model, tier=tier or None,
            at_risk=_RISK.get(at_risk), account_manager_id=manager_id))
    query = {k: v for k, v in chosen.items() if v and not (k == "sort" and v == "id")}
    return render(
        request, "customers.html", user=user, active="customers", page=found,
        chosen=chosen, searching=searching, query=urlencode(query),
        stages=_stage_names(model, home=settings.home), tiers=listing.distinct_values(
            session=session, column=RelationshipProfile.value_tier),
        managers=_managers(session) if scope.everyone else [], sorts=SORTS,
        min_prefix=search.MIN_NAME_PREFIX, first_page=cursor is None,
        own_book=not scope.everyone, at_risk_below=listing.AT_RISK_P_ALIVE)


def _stage_names(model: str | None, *, home: Path) -> list[str]:
    if model is None:
        return []
    try:
        return list(get_model(model, home=home).stage_names)
    except KithkinError:
        return []


@router.get("/customers/{customer_id:int}")
def customer(request: Request, session: SessionDep, user: CustomersUser,
             scope: CustomerScopeDep, customer_id: IdPath, cursor: str | None = None) -> Response:
    scope.check(session=session, customer_id=customer_id)
    view = dashboard_service.customer_view(session=session, customer_id=customer_id)
    timeline = dashboard_service.timeline(session=session, customer_id=customer_id,
                                          cursor=cursor)
    orders = dashboard_service.order_history(session=session, customer_id=customer_id)
    chart = None
    if orders:
        chart = charts.bar_chart(
            "order-history", "Order value over time",
            categories=[at.strftime("%Y-%m-%d") for at, _ in orders],
            series={"order value": [amount for _, amount in orders]}, y_title="amount",
            row_label="order date")
    metrics = view.metrics
    error = (metrics_service.model_error(session=session, as_of=metrics.as_of)
             if metrics is not None and metrics.clv is None else None)
    return render(request, "customer.html", user=user, active="customers", view=view,
                  model_error=error,
                  timeline=timeline, orders_chart=chart,
                  relationship=_relationship(session, settings_of(request.app.state),
                                                          customer_id), channels=list(Channel),
                  extra_sections=sections.load_sections(
                      session=session, customer_id=customer_id,
                      settings=settings_of(request.app.state)),
                  managers=(_managers(session) if navigation.allowed(ASSIGN.key, user.role)
                            else None),
                  work=customer_work(session=session, user=user, customer_id=customer_id))


def _managers(session: SessionDep) -> list[StaffUser]:
    """Who may be made account manager: active agents and managers."""
    return [u for u in user_service.list_users(session=session)
            if u.is_active and u.role in {Role.AGENT, Role.MANAGER}]


@router.post("/customers/{customer_id:int}/account-manager")
def assign(request: Request, session: SessionDep, user: AssignUser, customer_id: IdPath,
           account_manager_id: Annotated[str, Form()] = "") -> Response:
    manager_id = int(account_manager_id) if account_manager_id.strip() else None
    customer_service.assign_account_manager(session=session, customer_ids=[customer_id],
                                            account_manager_id=manager_id)
    session.commit()
    flash(request, "Account manager updated." if manager_id else "Account manager removed.")
    return RedirectResponse(f"/customers/{customer_id}", status_code=303)
