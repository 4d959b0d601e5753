"""/customers: list, the customer 360, create and update (export and erasure: /privacy)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from kithkin.analytics import service as metrics_service
from kithkin.api.deps import CustomerScopeDep, SessionDep, SettingsDep
from kithkin.api.pagination import DEFAULT_LIMIT, Page
from kithkin.api.params import AfterQuery, IdPath, IdQuery, LimitQuery
from kithkin.api.permissions import CustomersAdmin, CustomersRead, CustomersWrite
from kithkin.customers import listing
from kithkin.customers import service as customer_service
from kithkin.customers.schemas import (
    AccountManagerAssignment,
    AssignmentResult,
    CustomerCreate,
    CustomerDetail,
    CustomerListItem,
    CustomerProfile,
    CustomerSummary,
    CustomerUpdate,
)
from kithkin.interactions import service as interaction_service
from kithkin.memberships import service as membership_service
from kithkin.transactions import service as transaction_service

router = APIRouter(prefix="/customers", tags=["customers"])
RECENT = 10
# The 360's profile fields read off the customer (its two lists come as rows).
PROFILE_ATTRIBUTES = [name for name in CustomerProfile.model_fields
                      if name not in {"identifiers", "consents"}]


@router.get("", response_model=Page[CustomerListItem])
def list_customers(
    session: SessionDep, settings: SettingsDep, _: CustomersRead, scope: CustomerScopeDep,
    limit: LimitQuery = DEFAULT_LIMIT, after: AfterQuery = None,
    q: Annotated[str | None, Query(description=(
        "Search, as the dashboard's: a last-name prefix ('First Last' narrows by first "
        "name), an email prefix (with @), or an exact external or internal id (listed "
        "first). Matches come in name or email order; do not combine with sort."))] = None,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    stage: Annotated[str | None, Query(description="Current relationship stage.")] = None,
    stage_model: Annotated[str | None, Query(description=(
        "Stage model of `stage` (default: any model) and of the items' stage "
        "(default: the first active model)."))] = None,
    tier: Annotated[str | None, Query(description="Value tier, e.g. most_valuable.")] = None,
    at_risk: Annotated[bool | None, Query(description=(
        "true: P(alive) below 0.5; false: at or above (unknown P(alive) is neither)."))
    ] = None,
    sort: Annotated[str, Query(description=listing.SORT_HELP)] = "id",
    include_merged: bool = False,
    account_manager_id: Annotated[IdQuery, Query(
        description="Only the customers this staff user looks after.")] = None,
) -> Page[CustomerListItem]:
    """Customers, a keyset page at a time; an agent sees only their own customers."""
    filters = listing.CustomerFilters(
        q=q or "", stage=stage, stage_model=stage_model, tier=tier, at_risk=at_risk,
        account_manager_id=account_manager_id, country=country,
        include_merged=include_merged)
    found = listing.list_customers(
        session=session, filters=filters, sort=sort, limit=limit, after=after, scope=scope,
        stage_model=listing.default_stage_model(home=settings.home))
    return Page[CustomerListItem](
        items=[_list_item(row) for row in [*found.exact, *found.rows]],
        next_cursor=found.next_cursor, limit=limit,
    )


def _list_item(row: listing.CustomerRow) -> CustomerListItem:
    summary = CustomerSummary.model_validate(row.customer)
    return CustomerListItem(
        **summary.model_dump(), label=row.label, stage=row.stage, clv=row.clv,
        p_alive=row.p_alive, at_risk=row.at_risk, value_tier=row.value_tier,
        last_order_at=row.last_order_at, account_manager=row.account_manager)


@router.get("/{customer_id:int}", response_model=CustomerDetail)
def get_customer(customer_id: IdPath, session: SessionDep, _: CustomersRead,
                 scope: CustomerScopeDep) -> Response:
    """The customer 360: profile, identifiers, consents, latest orders and interactions,
    memberships and the latest metrics."""
    scope.check(session=session, customer_id=customer_id)
    customer = customer_service.get(session=session, customer_id=customer_id)
    identifiers, consents = customer_service.profile_lists(session=session,
                                                           customer_id=customer_id)
    detail = CustomerDetail.model_validate({
        **{name: getattr(customer, name) for name in PROFILE_ATTRIBUTES},
        "identifiers": identifiers,
        "consents": consents,
        "recent_transactions": transaction_service.recent_for_customer(
            session=session, customer_id=customer_id, limit=RECENT),
        "recent_interactions": interaction_service.recent_for_customer(
            session=session, customer_id=customer_id, limit=RECENT),
        "memberships": membership_service.for_customer(session=session,
                                                       customer_id=customer_id),
        "metrics": metrics_service.latest_values(session=session, customer_id=customer_id),
    })
    # One validation, straight to JSON bytes: returned as a model, the document would be
    # dumped, validated against response_model and encoded again by FastAPI.
    return Response(detail.model_dump_json(), media_type="application/json")


@router.post("", response_model=CustomerProfile, status_code=201)
def create_customer(payload: CustomerCreate, session: SessionDep,
                    _: CustomersWrite, scope: CustomerScopeDep) -> CustomerProfile:
    """A new customer; one an agent creates is theirs to look after."""
    customer = customer_service.create(session=session, data=payload,
                                       account_manager_id=scope.account_manager_id)
    session.commit()
    return CustomerProfile.model_validate(customer)


@router.patch("/{customer_id:int}", response_model=CustomerProfile)
def update_customer(customer_id: IdPath, payload: CustomerUpdate, session: SessionDep,
                    _: CustomersWrite, scope: CustomerScopeDep) -> CustomerProfile:
    scope.check(session=session, customer_id=customer_id)
    customer = customer_service.update(session=session, customer_id=customer_id,
                                       changes=payload)
    session.commit()
    return CustomerProfile.model_validate(customer)


@router.post("/assign", response_model=AssignmentResult)
def assign_account_manager(payload: AccountManagerAssignment, session: SessionDep,
                           _: CustomersAdmin) -> AssignmentResult:
    """Give customers an account manager (managers and admins: agents cannot reassign)."""
    assigned = customer_service.assign_account_manager(
        session=session, customer_ids=payload.customer_ids,
        account_manager_id=payload.account_manager_id)
    session.commit()
    return AssignmentResult(assigned=assigned)
