"""Customer shapes exchanged with other modules and the API."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kithkin.customers.models import Channel, ConsentStatus, Purpose
from kithkin.fields import IsoDate, IsoDatetime, RowId
from kithkin.interactions.schemas import InteractionRead
from kithkin.memberships.schemas import MembershipRead
from kithkin.transactions.schemas import TransactionRead


class MatchRule(StrEnum):
    """Why an incoming (source, external_id) landed on the customer it did."""

    IDENTIFIER = "identifier"  # that identifier is already known
    EMAIL = "email"  # new identifier, same normalised email as a customer
    PHONE = "phone"  # new identifier, same E.164 phone as a customer
    NEW = "new"  # nothing matched: a new customer


class CustomerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    email: str | None = None
    email_normalized: str | None = None
    phone: str | None = None
    phone_e164: str | None = None
    date_of_birth: date | None = None
    date_of_birth_raw: str | None = Field(default=None, description=(
        "The date of birth as imported when it was not a valid date (kept for matching)."))
    address_line: str | None = None
    address_line2: str | None = None
    city: str | None = None
    region: str | None = Field(default=None, description="State, county or province.")
    postcode: str | None = None
    country: str | None = None
    acquisition_source: str | None = None
    acquired_at: datetime | None = None
    attributes: dict[str, Any] | None = None
    merged_into_id: int | None = None
    created_at: datetime
    updated_at: datetime


# --- The REST API's shapes (kithkin.customers.router) ---------------------------------


class IdentifierRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    source: str
    external_id: str
    created_at: datetime


class ConsentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    channel: Channel
    purpose: Purpose
    status: ConsentStatus
    updated_at: datetime
    source: str | None


class CustomerFields(BaseModel):
    """The editable fields; all optional so PATCH can send only what changes."""

    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    date_of_birth: IsoDate | None = None
    address_line: str | None = Field(default=None, max_length=400)
    address_line2: str | None = Field(default=None, max_length=400)
    city: str | None = Field(default=None, max_length=200)
    region: str | None = Field(default=None, max_length=200)
    postcode: str | None = Field(default=None, max_length=32)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    acquisition_source: str | None = Field(default=None, max_length=100)
    acquired_at: IsoDatetime | None = None
    attributes: dict[str, Any] | None = None
    consents: dict[Channel, ConsentStatus] | None = Field(
        default=None,
        description="Channel -> marketing consent status, recorded in the consent ledger "
                    "with source api; channels left out are unchanged. Other purposes, "
                    "wording and evidence: POST /privacy/customers/{id}/consents.",
    )


class CustomerCreate(CustomerFields):
    source: str = Field(default="api", min_length=1, max_length=100)
    external_id: str = Field(min_length=1, max_length=200,
                             description="The id the source system knows them by.")


class CustomerUpdate(CustomerFields):
    pass


class AccountManagerAssignment(BaseModel):
    """Give customers an account manager (null removes it)."""

    customer_ids: list[RowId] = Field(min_length=1, max_length=10_000)
    account_manager_id: RowId | None = Field(
        description="An active staff user; null leaves the customers unassigned.")


class AssignmentResult(BaseModel):
    assigned: int = Field(description="Customers whose account manager changed.")


class CustomerSummary(BaseModel):
    """A row of the customer list."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    display_name: str
    first_name: str | None
    last_name: str | None
    company: str | None
    email: str | None
    phone: str | None
    city: str | None
    country: str | None
    acquisition_source: str | None
    acquired_at: datetime | None
    merged_into_id: int | None
    erased_at: datetime | None
    account_manager_id: int | None
    created_at: datetime
    updated_at: datetime


class CustomerListItem(CustomerSummary):
    """A row of the customer list with the values people sort and filter by (from the
    latest refresh; null where unknown, never 0)."""

    label: str = Field(description="Name, else company, email or an external id.")
    stage: str | None = Field(description="Current stage in the list's stage model.")
    clv: float | None
    p_alive: float | None
    at_risk: bool | None = Field(description="P(alive) below 0.5; null when unknown.")
    value_tier: str | None
    last_order_at: datetime | None
    account_manager: str | None = Field(description="The account manager's name.")


class CustomerProfile(CustomerSummary):
    """Everything on the customer record, with identifiers and consents."""

    date_of_birth: date | None
    date_of_birth_raw: str | None
    address_line: str | None
    address_line2: str | None
    region: str | None
    postcode: str | None
    attributes: dict[str, Any] | None
    identifiers: list[IdentifierRead]
    consents: list[ConsentRead]


class CustomerDetail(CustomerProfile):
    """The customer 360: profile, ids, consents, latest activity and metrics."""

    recent_transactions: list[TransactionRead]
    recent_interactions: list[InteractionRead]
    memberships: list[MembershipRead]
    metrics: dict[str, Any] | None = Field(
        description="Latest per-customer metrics (null before the first refresh)."
    )
