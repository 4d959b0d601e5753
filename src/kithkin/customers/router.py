"""/customers: list, the customer 360, create, update, PII export and erasure."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from kithkin.api.deps import CustomerScopeDep, SessionDep
from kithkin.api.pagination import DEFAULT_LIMIT, Page
from kithkin.api.params import AfterQuery, IdPath, IdQuery, LimitQuery
from kithkin.api.permissions import CustomersAdmin, CustomersRead, CustomersWrite
from kithkin.customers import service as customer_service
from kithkin.customers.schemas import (
    AccountManagerAssignment,
    AssignmentResult,
    CustomerCreate,
    CustomerDetail,
    CustomerProfile,
    CustomerSummary,
    CustomerUpdate,
)
from kithkin.interactions import service as interaction_service
from kithkin.memberships import service as membership_service
from kithkin.metrics import service as metrics_service
from kithkin.transactions import service as transaction_service

router = APIRouter(prefix="/customers", tags=["customers"])
RECENT = 10
# The 360's profile fields read off the customer (its two lists come as rows).
PROFILE_ATTRIBUTES = [name for name in CustomerProfile.model_fields
                      if name not in {"identifiers", "consents"}]


@router.get("", response_model=Page[CustomerSummary])
def list_customers(
    session: SessionDep, _: CustomersRead, scope: CustomerScopeDep,
    limit: LimitQuery = DEFAULT_LIMIT, after: AfterQuery = None,
    q: Annotated[str | None, Query(description="Prefix of name, company or email.")] = None,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    stage: Annotated[str | None, Query(description="Current relationship stage.")] = None,
    stage_model: Annotated[str | None, Query(description="Stage model of `stage`.")] = None,
    sort: Annotated[str, Query(description="id, created_at, last_name or country; "
                                           "prefix - for descending.")] = "id",
    include_merged: bool = False,
    account_manager_id: Annotated[IdQuery, Query(
        description="Only the customers this staff user looks after.")] = None,
) -> Page[CustomerSummary]:
    """Customers, a keyset page at a time; an agent sees only their own customers."""
    rows, cursor = customer_service.list_page(
        session=session, limit=limit, after=after, q=q, country=country, stage=stage,
        stage_model=stage_model, sort=sort, include_merged=include_merged,
        account_manager_id=account_manager_id, scope=scope,
    )
    return Page[CustomerSummary](
        items=[CustomerSummary.model_validate(row) for row in rows],
        next_cursor=cursor, limit=limit,
    )


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


@router.get("/{customer_id:int}/export")
def export_customer(customer_id: IdPath, session: SessionDep,
                    _: CustomersAdmin) -> dict[str, Any]:
    """Everything stored about the customer, as JSON (data-subject access request)."""
    return customer_service.export(session=session, customer_id=customer_id)


@router.post("/{customer_id:int}/erase", response_model=CustomerProfile)
def erase_customer(customer_id: IdPath, session: SessionDep, _: CustomersAdmin) -> CustomerProfile:
    """Erase personal data (right to erasure); ids and order history are kept."""
    customer = customer_service.erase(session=session, customer_id=customer_id)
    session.commit()
    return CustomerProfile.model_validate(customer)
