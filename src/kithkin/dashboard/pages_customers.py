"""Customer list (search, keyset pages) and the customer 360 page (every role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from kithkin.api.deps import SessionDep
from kithkin.customers.models import Channel
from kithkin.dashboard import charts, navigation, sections
from kithkin.dashboard import service as dashboard_service
from kithkin.dashboard.web import PageRoute, render, require_page
from kithkin.errors import NotFoundError
from kithkin.relationships import service as relationships_service
from kithkin.relationships.schemas import CustomerExplanation
from kithkin.users.models import StaffUser

router = APIRouter(route_class=PageRoute, include_in_schema=False)

CustomersUser = Annotated[StaffUser, Depends(require_page(navigation.CUSTOMERS.key))]


def _relationship(session: SessionDep,
                  customer_id: int) -> CustomerExplanation | None:
    """Stages, health and bonds when the relationship engine has assessed the customer."""
    try:
        return relationships_service.explain(session=session, customer_id=customer_id)
    except NotFoundError:
        return None


@router.get("/customers")
def customers(request: Request, session: SessionDep, user: CustomersUser, q: str = "",
              cursor: str | None = None) -> Response:
    page = dashboard_service.search_customers(session=session, query=q, cursor=cursor,
                                              limit=dashboard_service.PAGE_SIZE)
    return render(request, "customers.html", user=user, active="customers", q=q, page=page,
                  min_prefix=dashboard_service.MIN_NAME_PREFIX, first_page=cursor is None)


@router.get("/customers/{customer_id}")
def customer(request: Request, session: SessionDep, user: CustomersUser, customer_id: int,
             cursor: str | None = None) -> Response:
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
        )
    return render(request, "customer.html", user=user, active="customers", view=view,
                  timeline=timeline, orders_chart=chart,
                  relationship=_relationship(session, customer_id), channels=list(Channel),
                  extra_sections=sections.load_sections(session=session,
                                                        customer_id=customer_id))
