"""What each import kind looks like: fields, their types, natural keys and references.

The canonical columns are the contract in docs/architecture.md. One declarative table per
kind drives the whole pipeline (header check, coercion, staging, set-based upsert), so a
new column is one line here rather than a change in five places.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from kithkin.customers.models import Channel, ConsentStatus, Purpose
from kithkin.interactions.models import (
    Direction,
    InteractionChannel,
    InteractionKind,
    ScoreScale,
    TicketStatus,
)
from kithkin.memberships.models import MembershipKind
from kithkin.prospects.models import ProspectOrigin, ProspectStatus


class Kind(StrEnum):
    CUSTOMERS = "customers"
    PROSPECTS = "prospects"
    PRODUCTS = "products"
    TRANSACTIONS = "transactions"
    LINES = "lines"
    INTERACTIONS = "interactions"
    MEMBERSHIPS = "memberships"


class FieldType(StrEnum):
    TEXT = "text"
    CODE = "code"  # upper-cased short code: currency, country
    INT = "int"
    MONEY = "money"  # decimal rounded to cents, as stored in Numeric(18, 2)
    FLOAT = "float"
    DATETIME = "datetime"
    DATE = "date"
    ENUM = "enum"
    EMAIL = "email"
    PHONE = "phone"
    CONSENT = "consent"
    TAGS = "tags"  # ';'-separated -> JSON list


class When(StrEnum):
    """Which plausible window a date field is checked against (see ingest.validate)."""

    EVENT = "event"  # happened: not after now + ingest_future_days
    SCHEDULED = "scheduled"  # may lie ahead: not after ingest_latest_date
    BIRTH = "birth"  # from ingest_earliest_birth_date to today


@dataclass(frozen=True)
class FieldSpec:
    """One input column.

    ``column`` is the target table column it is stored in (None: used only to resolve a
    reference or a key); ``default`` fills empty cells of columns the model requires.
    """

    name: str
    type: FieldType = FieldType.TEXT
    required: bool = False
    column: str | None = ""
    choices: tuple[str, ...] = ()
    default: str | None = None
    when: When = When.EVENT
    # Set for optional fields whose bad value must not cost the row: the value stays as
    # text in this column, the parsed one is NULL, and the reject file notes the field.
    raw_column: str | None = None
    # Other systems' words for an enum's values (a helpdesk's "solved", "question")
    synonyms: tuple[tuple[str, str], ...] = ()

    @property
    def target(self) -> str | None:
        return self.name if self.column == "" else self.column


@dataclass(frozen=True)
class Reference:
    """A foreign key resolved set-based by joining the staged rows on another table.

    ``on`` pairs (referenced table column, staged column). A staged row whose ``trigger``
    is set but finds no match is rejected with ``reason`` when ``required``; otherwise the
    target column is left NULL.
    """

    table: str
    on: tuple[tuple[str, str], ...]
    value: str
    target: str
    trigger: str
    reason: str
    required: bool = True


@dataclass(frozen=True)
class KindSpec:
    kind: Kind
    table: str
    key: tuple[str, ...]  # natural key, in input field names
    conflict: tuple[str, ...]  # unique constraint of the target table
    fields: tuple[FieldSpec, ...]
    references: tuple[Reference, ...] = ()
    timestamps: tuple[str, ...] = ("created_at",)  # set to now on insert
    touches_updated_at: bool = False
    extra_to_attributes: bool = False
    field_by_name: dict[str, FieldSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "field_by_name", {f.name: f for f in self.fields})

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]


def _choices(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


_CONSENT_CHOICES = _choices(ConsentStatus)

_CUSTOMER_REF = Reference(
    table="customer_identifier",
    on=(("source", "customer_source"), ("external_id", "customer_external_id")),
    value="customer_id",
    target="customer_id",
    trigger="customer_external_id",
    reason="unknown customer",
)
# An export that knows its customers by e-mail only (a helpdesk's requester, a payment
# provider's receipt) gives customer_email instead: each row is joined to the live
# customer with that e-mail (kithkin.imports.ingest.by_email).
_CUSTOMER_LINK = (
    FieldSpec("customer_external_id", required=True, column=None),
    FieldSpec("customer_source", column=None),
    FieldSpec("customer_email", column=None),
)

# Helpdesk exports' ticket types and statuses (Zendesk, Freshdesk, Help Scout...), as
# enum_synonym -> kithkin's value; spaces and hyphens already read as underscores.
_HELPDESK_KINDS = (
    ("question", "inquiry"), ("enquiry", "inquiry"), ("problem", "service_request"),
    ("incident", "service_request"), ("task", "service_request"),
    ("support", "service_request"), ("support_request", "service_request"),
    ("suggestion", "idea"), ("feature_request", "idea"), ("survey", "survey_response"),
)
_HELPDESK_STATUSES = (
    ("new", "open"), ("pending", "responded"), ("waiting_on_customer", "responded"),
    ("hold", "in_progress"), ("on_hold", "in_progress"), ("solved", "resolved"),
    ("done", "resolved"),
)

SPECS: dict[Kind, KindSpec] = {
    Kind.CUSTOMERS: KindSpec(
        kind=Kind.CUSTOMERS,
        table="customer",
        key=("source", "external_id"),
        conflict=("source", "external_id"),
        fields=(
            FieldSpec("source", required=True),
            FieldSpec("external_id", required=True),
            FieldSpec("first_name"),
            FieldSpec("last_name"),
            # one "Name" column: split into first and last name where those are not given
            FieldSpec("full_name", column=None),
            FieldSpec("company"),
            FieldSpec("email", FieldType.EMAIL),
            FieldSpec("phone", FieldType.PHONE, raw_column="phone"),
            FieldSpec("date_of_birth", FieldType.DATE, when=When.BIRTH,
                      raw_column="date_of_birth_raw"),
            FieldSpec("address_line"),
            FieldSpec("address_line2"),
            FieldSpec("city"),
            FieldSpec("region"),
            FieldSpec("postcode"),
            FieldSpec("country", FieldType.CODE),
            FieldSpec("acquisition_source"),
            FieldSpec("acquired_at", FieldType.DATETIME),
            # consent_<channel> is marketing consent; consent_<channel>_<purpose> the
            # other purposes. Wording, evidence and time apply to every consent of the row
            # (they go to the consent ledger, not the customer).
            *(
                FieldSpec(f"consent_{channel}", FieldType.CONSENT, choices=_CONSENT_CHOICES)
                for channel in Channel
            ),
            *(
                FieldSpec(f"consent_{channel}_{purpose}", FieldType.CONSENT,
                          choices=_CONSENT_CHOICES, column=None)
                for channel in Channel for purpose in Purpose
            ),
            FieldSpec("consent_wording", column=None),
            FieldSpec("consent_evidence", column=None),
            FieldSpec("consent_at", FieldType.DATETIME, column=None),
        ),
        extra_to_attributes=True,
    ),
    Kind.PROSPECTS: KindSpec(
        kind=Kind.PROSPECTS,
        table="prospect",
        key=("source", "external_id"),
        conflict=("source", "external_id"),
        fields=(
            FieldSpec("source", required=True),
            FieldSpec("external_id", required=True),
            FieldSpec("first_name"),
            FieldSpec("last_name"),
            FieldSpec("company"),
            FieldSpec("email", FieldType.EMAIL),
            FieldSpec("phone", FieldType.PHONE, column=None),  # stored as phone_e164
            FieldSpec("origin", FieldType.ENUM, choices=_choices(ProspectOrigin), default="lead"),
            FieldSpec("competitor"),
            FieldSpec("status", FieldType.ENUM, choices=_choices(ProspectStatus), default="new"),
            FieldSpec("captured_at", FieldType.DATETIME),
        ),
        timestamps=("created_at", "updated_at"),
        touches_updated_at=True,
    ),
    Kind.PRODUCTS: KindSpec(
        kind=Kind.PRODUCTS,
        table="product",
        key=("sku",),
        conflict=("sku",),
        fields=(
            FieldSpec("sku", required=True),
            FieldSpec("name", required=True),
            FieldSpec("category"),
            FieldSpec("list_price", FieldType.MONEY),
            FieldSpec("unit_cost", FieldType.MONEY),
            FieldSpec("discontinued_at", FieldType.DATETIME, when=When.SCHEDULED),
        ),
        timestamps=("created_at", "updated_at"),
        touches_updated_at=True,
    ),
    Kind.TRANSACTIONS: KindSpec(
        kind=Kind.TRANSACTIONS,
        table="transaction",
        key=("source", "order_id"),
        conflict=("source", "order_id"),
        fields=(
            FieldSpec("source", required=True),
            FieldSpec("order_id", required=True),
            *_CUSTOMER_LINK,
            FieldSpec("ordered_at", FieldType.DATETIME, required=True),
            FieldSpec("amount", FieldType.MONEY, required=True),
            FieldSpec("cost", FieldType.MONEY),
            FieldSpec("discount", FieldType.MONEY),
            FieldSpec("currency", FieldType.CODE),
            FieldSpec("channel"),
            FieldSpec("quantity", FieldType.FLOAT),
            # Read, not stored: the amount is stored net of refunds, and rows whose
            # status is in the options' skip_statuses are left out.
            FieldSpec("refunded", FieldType.MONEY, column=None),
            FieldSpec("status", column=None),
        ),
        references=(_CUSTOMER_REF,),
    ),
    Kind.LINES: KindSpec(
        kind=Kind.LINES,
        table="transaction_line",
        key=("source", "order_id", "line_no"),
        conflict=("transaction_id", "line_no"),
        fields=(
            FieldSpec("source", required=True, column=None),
            FieldSpec("order_id", required=True, column=None),
            FieldSpec("line_no", FieldType.INT, required=True),
            FieldSpec("sku"),
            FieldSpec("quantity", FieldType.FLOAT, required=True),
            FieldSpec("unit_price", FieldType.MONEY, required=True),
            FieldSpec("discount", FieldType.MONEY),
            FieldSpec("unit_cost", FieldType.MONEY),
            FieldSpec("bundle"),
        ),
        references=(
            Reference(
                table="transaction",
                on=(("source", "source"), ("order_id", "order_id")),
                value="id",
                target="transaction_id",
                trigger="order_id",
                reason="unknown order",
            ),
            # A SKU missing from the catalogue keeps its text; the product link stays empty.
            Reference(
                table="product",
                on=(("sku", "sku"),),
                value="id",
                target="product_id",
                trigger="sku",
                reason="unknown product",
                required=False,
            ),
        ),
        timestamps=(),
    ),
    Kind.INTERACTIONS: KindSpec(
        kind=Kind.INTERACTIONS,
        table="interaction",
        key=("source", "external_id"),
        conflict=("source", "external_id"),
        fields=(
            FieldSpec("source", required=True),
            FieldSpec("external_id", required=True),
            FieldSpec("customer_external_id", column=None),
            FieldSpec("customer_source", column=None),
            FieldSpec("customer_email", column=None),
            FieldSpec("prospect_external_id", column=None),
            FieldSpec("occurred_at", FieldType.DATETIME, required=True),
            FieldSpec("channel", FieldType.ENUM, choices=_choices(InteractionChannel)),
            FieldSpec("direction", FieldType.ENUM, required=True, choices=_choices(Direction)),
            FieldSpec("kind", FieldType.ENUM, required=True, choices=_choices(InteractionKind),
                      synonyms=_HELPDESK_KINDS),
            FieldSpec("subject"),
            FieldSpec("text"),
            FieldSpec("score", FieldType.FLOAT),
            FieldSpec("score_scale", FieldType.ENUM, choices=_choices(ScoreScale)),
            FieldSpec("status", FieldType.ENUM, choices=_choices(TicketStatus),
                      synonyms=_HELPDESK_STATUSES),
            FieldSpec("resolved_at", FieldType.DATETIME),
            FieldSpec("tags", FieldType.TAGS),
        ),
        references=(
            Reference(
                table="customer_identifier",
                on=(("source", "customer_source"), ("external_id", "customer_external_id")),
                value="customer_id",
                target="customer_id",
                trigger="customer_external_id",
                reason="unknown customer",
            ),
            Reference(
                table="prospect",
                on=(("source", "customer_source"), ("external_id", "prospect_external_id")),
                value="id",
                target="prospect_id",
                trigger="prospect_external_id",
                reason="unknown prospect",
            ),
        ),
    ),
    Kind.MEMBERSHIPS: KindSpec(
        kind=Kind.MEMBERSHIPS,
        table="membership",
        key=("source", "external_id"),
        conflict=("source", "external_id"),
        fields=(
            FieldSpec("source", required=True),
            FieldSpec("external_id", required=True),
            *_CUSTOMER_LINK,
            FieldSpec("kind", FieldType.ENUM, required=True, choices=_choices(MembershipKind)),
            FieldSpec("programme", required=True),
            FieldSpec("tier"),
            FieldSpec("started_at", FieldType.DATETIME, required=True, when=When.SCHEDULED),
            FieldSpec("ended_at", FieldType.DATETIME, when=When.SCHEDULED),
        ),
        references=(_CUSTOMER_REF,),
        timestamps=("created_at", "updated_at"),
        touches_updated_at=True,
    ),
}

SUMMED = ("amount", "cost", "discount", "quantity", "refunded")
"""Transaction fields added up when several rows make one order (see prepare.combine)."""

# Columns that need at least one of them present (an interaction belongs to someone).
ONE_OF: dict[Kind, tuple[str, ...]] = {
    Kind.INTERACTIONS: ("customer_external_id", "prospect_external_id"),
}
