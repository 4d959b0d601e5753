"""/customers: list, the customer 360, create, update, PII export and erasure."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from kithkin.api.deps import SessionDep
from kithkin.api.pagination import DEFAULT_LIMIT, Page
from kithkin.api.params import AfterQuery, LimitQuery
from kithkin.api.permissions import CustomersAdmin, CustomersRead, CustomersWrite
from kithkin.customers import service as customer_service
from kithkin.customers.schemas import (
    CustomerCreate,
    CustomerDetail,
    CustomerProfile,
    CustomerSummary,
    CustomerUpdate,
)
from kithkin.interactions import service as interaction_service
from kithkin.interactions.schemas import InteractionRead
from kithkin.memberships import service as membership_service
from kithkin.memberships.schemas import MembershipRead
from kithkin.transactions import service as transaction_service
from kithkin.transactions.schemas import TransactionRead

router = APIRouter(prefix="/customers", tags=["customers"])
RECENT = 10


@router.get("", response_model=Page[CustomerSummary])
def list_customers(
    session: SessionDep, _: CustomersRead, limit: LimitQuery = DEFAULT_LIMIT,
    after: AfterQuery = None,
    q: Annotated[str | None, Query(description="Prefix of name, company or email.")] = None,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    stage: Annotated[str | None, Query(description="Current relationship stage.")] = None,
    stage_model: Annotated[str | None, Query(description="Stage model of `stage`.")] = None,
    sort: Annotated[str, Query(description="id, created_at, last_name or country; "
                                           "prefix - for descending.")] = "id",
    include_merged: bool = False,
) -> Page[CustomerSummary]:
    rows, cursor = customer_service.list_page(
        session=session, limit=limit, after=after, q=q, country=country, stage=stage,
        stage_model=stage_model, sort=sort,
        include_merged=include_merged,
    )
    return Page[CustomerSummary](
        items=[CustomerSummary.model_validate(row) for row in rows],
        next_cursor=cursor, limit=limit,
    )


@router.get("/{customer_id}", response_model=CustomerDetail)
def get_customer(customer_id: int, session: SessionDep, _: CustomersRead) -> CustomerDetail:
    """The customer 360: profile, identifiers, consents, latest orders and interactions,
    memberships and the latest metrics."""
    customer = customer_service.get(session=session, customer_id=customer_id)
    profile = CustomerProfile.model_validate(customer)
    return CustomerDetail.model_construct(
        **dict(profile),
        recent_transactions=[TransactionRead.model_validate(t) for t in
                             transaction_service.recent_for_customer(
                                 session=session, customer_id=customer_id, limit=RECENT)],
        recent_interactions=[InteractionRead.model_validate(i) for i in
                             interaction_service.recent_for_customer(
                                 session=session, customer_id=customer_id, limit=RECENT)],
        memberships=[MembershipRead.model_validate(m) for m in
                     membership_service.for_customer(session=session,
                                                     customer_id=customer_id)],
        metrics=customer_service.latest_metrics(session=session, customer_id=customer_id),
    )


@router.post("", response_model=CustomerProfile, status_code=201)
def create_customer(payload: CustomerCreate, session: SessionDep,
                    _: CustomersWrite) -> CustomerProfile:
    customer = customer_service.create(session=session, data=payload)
    session.commit()
    return CustomerProfile.model_validate(customer)


@router.patch("/{customer_id}", response_model=CustomerProfile)
def update_customer(customer_id: int, payload: CustomerUpdate, session: SessionDep,
                    _: CustomersWrite) -> CustomerProfile:
    customer = customer_service.update(session=session, customer_id=customer_id,
                                       changes=payload)
    session.commit()
    return CustomerProfile.model_validate(customer)


@router.get("/{customer_id}/export")
def export_customer(customer_id: int, session: SessionDep,
                    _: CustomersAdmin) -> dict[str, Any]:
    """Everything stored about the customer, as JSON (data-subject access request)."""
    return customer_service.export(session=session, customer_id=customer_id)


@router.post("/{customer_id}/erase", response_model=CustomerProfile)
def erase_customer(customer_id: int, session: SessionDep, _: CustomersAdmin) -> CustomerProfile:
    """Erase personal data (right to erasure); ids and order history are kept."""
    customer = customer_service.erase(session=session, customer_id=customer_id)
    session.commit()
    return CustomerProfile.model_validate(customer)
