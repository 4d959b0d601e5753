"""Customer look-ups by id, by external identifier and by contact (deterministic matching).

The bulk functions take whole batches of keys because ingestion resolves tens of
thousands of rows at a time; they query in chunks to stay under bind-parameter limits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Row, Select, Table, bindparam, select
from sqlalchemy.orm import Session

from kithkin.audit import service as audit_service
from kithkin.customers.models import Consent, Customer, CustomerIdentifier
from kithkin.customers.schemas import ConsentRead, CustomerCreate, CustomerFields, IdentifierRead
from kithkin.database import registry  # noqa: F401  (every table, for export)
from kithkin.database.base import utcnow
from kithkin.database.core import get_or_raise
from kithkin.database.references import referencing_columns
from kithkin.errors import ConflictError, NotFoundError, ValidationError
from kithkin.identity.normalize import normalize_email, normalize_phone
from kithkin.interactions.models import Interaction
from kithkin.prospects.models import Prospect
from kithkin.relationships import models as relationship_models
from kithkin.transactions.models import TransactionLine
from kithkin.users.models import StaffUser

_CHUNK = 400
T = TypeVar("T")


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def get(*, session: Session, customer_id: int) -> Customer:
    customer = get_or_raise(session, Customer, customer_id, "customer")
    return customer


def get_by_identifier(*, session: Session, source: str, external_id: str) -> Customer:
    """The customer known in ``source`` as ``external_id``."""
    customer = session.scalars(
        select(Customer).join(CustomerIdentifier).where(
            CustomerIdentifier.source == source, CustomerIdentifier.external_id == external_id
        )
    ).one_or_none()
    if customer is None:
        raise NotFoundError(f"no customer is known as {external_id!r} in source {source!r}")
    return customer


def resolve_identifiers(
    *, session: Session, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """Map each known (source, external_id) to its customer id; unknown keys are absent.

    Queried per source with ``external_id IN (...)`` so both SQLite and PostgreSQL walk
    the (source, external_id) unique index; PostgreSQL scans the table for row-value IN.
    """
    by_source: dict[str, list[str]] = {}
    for source, external in dict.fromkeys(keys):
        by_source.setdefault(source, []).append(external)
    found: dict[tuple[str, str], int] = {}
    for source, externals in by_source.items():
        for chunk in _chunks(externals):
            rows = session.execute(
                select(CustomerIdentifier.external_id, CustomerIdentifier.customer_id).where(
                    CustomerIdentifier.source == source,
                    CustomerIdentifier.external_id.in_(chunk),
                )
            )
            found.update({(source, external): cid for external, cid in rows})
    return found


def match_contacts(
    *, session: Session, emails: Iterable[str], phones: Iterable[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Deterministic matching: normalised email, then E.164 phone, to live customers.

    Merged-away customers never match (their survivor does); when several customers share
    a contact the oldest (lowest id) wins, so the answer does not depend on query order.
    """
    by_email: dict[str, int] = {}
    by_phone: dict[str, int] = {}
    for target, column, values in ((by_email, Customer.email_normalized, emails),
                                   (by_phone, Customer.phone_e164, phones)):
        for chunk in _chunks(sorted(set(values))):
            # Only the contact column in WHERE, no ORDER BY: with stale statistics
            # PostgreSQL otherwise scans the whole merged_into_id or primary-key index for
            # every chunk. Merged/erased rows are skipped and the lowest id kept here.
            rows = session.execute(
                select(column, Customer.id, Customer.merged_into_id, Customer.erased_at)
                .where(column.in_(chunk))
            )
            for key, cid, merged_into, erased_at in rows:
                if key and merged_into is None and erased_at is None and (
                        key not in target or cid < target[key]):
                    target[key] = cid
    return by_email, by_phone


# --- Reading, editing, export and erasure for the REST API -----------------------------

# Fields that identify a person; erasure clears them. Country and acquisition source
# stay: too coarse to identify anyone, and the value analytics need them.
PII_FIELDS = ("first_name", "last_name", "company", "email", "email_normalized", "phone",
              "phone_e164", "date_of_birth", "date_of_birth_raw", "address_line",
              "address_line2", "city", "region", "postcode", "attributes")


def _apply_fields(*, session: Session, customer: Customer, fields: CustomerFields,
                  only_set: bool) -> None:
    values = fields.model_dump(exclude={"consents"}, exclude_unset=only_set)
    for name, value in values.items():
        setattr(customer, name, value)
    if "email" in values:
        customer.email_normalized = normalize_email(customer.email)
        if customer.email and customer.email_normalized is None:
            raise ValidationError(f"email: {customer.email!r} is not an email address")
    if "phone" in values:
        customer.phone_e164 = normalize_phone(customer.phone)
        if customer.phone and customer.phone_e164 is None:
            raise ValidationError(f"phone: {customer.phone!r} is not a valid phone number")
    if customer.country:
        customer.country = customer.country.upper()
    if fields.consents:
        by_channel = {consent.channel: consent for consent in customer.consents}
        for channel, status in fields.consents.items():
            consent = by_channel.get(channel.value)
            if consent is None:
                customer.consents.append(Consent(channel=channel.value, status=status.value,
                                                 source="api"))
            elif consent.status != status.value:
                consent.status, consent.updated_at, consent.source = status.value, utcnow(), "api"
    session.flush()


def create(*, session: Session, data: CustomerCreate,
           account_manager_id: int | None = None) -> Customer:
    """A new customer known as (source, external_id); ConflictError if that is taken."""
    taken = session.scalar(select(CustomerIdentifier.customer_id).where(
        CustomerIdentifier.source == data.source,
        CustomerIdentifier.external_id == data.external_id))
    if taken is not None:
        raise ConflictError(
            f"{data.source}/{data.external_id} already identifies customer {taken}")
    customer = Customer(identifiers=[CustomerIdentifier(source=data.source,
                                                        external_id=data.external_id)],
                        consents=[], account_manager_id=account_manager_id)
    session.add(customer)
    _apply_fields(session=session, customer=customer, fields=data, only_set=False)
    return customer


def update(*, session: Session, customer_id: int, changes: CustomerFields) -> Customer:
    """Change only the fields present in ``changes``; erased customers stay erased."""
    customer = get(session=session, customer_id=customer_id)
    if customer.erased_at is not None:
        raise ConflictError(f"customer {customer_id} was erased on {customer.erased_at:%Y-%m-%d}")
    _apply_fields(session=session, customer=customer, fields=changes, only_set=True)
    customer.updated_at = utcnow()
    return customer


def assign_account_manager(*, session: Session, customer_ids: Sequence[int],
                           account_manager_id: int | None) -> int:
    """Make one active staff member the account manager of ``customer_ids`` (None
    unassigns them); returns how many changed. All or nothing: an unknown or merged-away
    customer, or an inactive manager, raises before anything is written."""
    if account_manager_id is not None:
        manager = session.get(StaffUser, account_manager_id)
        if manager is None or not manager.is_active:
            raise ValidationError(
                f"account_manager_id: {account_manager_id} is not an active staff user")
    wanted = sorted(set(customer_ids))
    found: dict[int, Customer] = {}
    for chunk in _chunks(wanted):
        found.update((c.id, c) for c in session.scalars(
            select(Customer).where(Customer.id.in_(chunk))))
    missing = [cid for cid in wanted if cid not in found]
    if missing:
        raise NotFoundError(f"no customer with id {', '.join(map(str, missing[:10]))}")
    merged = [c for c in found.values() if c.merged_into_id is not None]
    if merged:
        raise ValidationError(f"customer_ids: customer {merged[0].id} was merged into "
                              f"{merged[0].merged_into_id}; assign the survivor")
    changed = [c for c in found.values() if c.account_manager_id != account_manager_id]
    now = utcnow()
    for customer in changed:
        customer.account_manager_id, customer.updated_at = account_manager_id, now
    session.flush()
    return len(changed)


def in_stage(*, session: Session, model: str, stage: str, limit: int | None = None) -> list[int]:
    """Live customers currently in ``stage`` of ``model``, by id."""
    if not model or not stage:
        raise ValidationError("stage: give MODEL:STAGE, e.g. journey:partner")
    stages = relationship_models.CustomerStage
    query = (select(stages.customer_id).join(Customer, Customer.id == stages.customer_id)
             .where(stages.model == model, stages.stage == stage,
                    Customer.merged_into_id.is_(None))
             .order_by(stages.customer_id).limit(limit))
    return list(session.scalars(query))


def _customer_owned_tables() -> list[Table]:
    """Every table whose ``customer_id`` refers to the customer, so tables added by later
    features (stage history, tasks) are exported too. Other references (a prospect's
    ``converted_customer_id``, a merged record's ``merged_into_id``) are not the
    customer's own rows; :func:`export` adds the prospects itself."""
    return [column.table for column in referencing_columns(Customer.id)
            if column.name == "customer_id" and isinstance(column.table, Table)]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def export(*, session: Session, customer_id: int) -> dict[str, Any]:
    """Everything stored about a customer (a data-subject access request, GDPR art. 15):
    the customer row and every row of every table that references it."""
    customer = get(session=session, customer_id=customer_id)
    customer_table = Customer.__table__
    assert isinstance(customer_table, Table)
    document: dict[str, Any] = {
        "customer": {c.name: _jsonable(getattr(customer, c.key))
                     for c in customer_table.columns},
        "exported_at": utcnow().isoformat(),
    }
    for table in _customer_owned_tables():
        rows = session.execute(select(table).where(table.c.customer_id == customer_id))
        document[table.name] = [{k: _jsonable(v) for k, v in row._mapping.items()}
                                for row in rows]
        if table.name == "transaction":
            _add_lines(session=session, document=document)
    prospects = session.scalars(select(Prospect).where(
        Prospect.converted_customer_id == customer_id)).all()
    document["prospect"] = [{c: _jsonable(getattr(p, c)) for c in (
        "id", "source", "external_id", "first_name", "last_name", "company", "email",
        "phone_e164", "origin", "status", "captured_at")} for p in prospects]
    return document


def _add_lines(*, session: Session, document: dict[str, Any]) -> None:
    lines_table = TransactionLine.__table__
    ids = [row["id"] for row in document["transaction"]]
    document["transaction_line"] = [] if not ids else [
        {k: _jsonable(v) for k, v in row._mapping.items()}
        for row in session.execute(select(lines_table).where(
            lines_table.c.transaction_id.in_(ids)))
    ]


def erase(*, session: Session, customer_id: int) -> Customer:
    """Erase a customer's personal data (GDPR art. 17) but keep the record and its ids.

    Identifying fields are nulled, interaction texts and free attributes removed, and
    converted prospect records blanked; ids, identifiers, orders and consents stay so
    revenue history stays whole and opt-outs stay honoured. Idempotent.
    """
    customer = get(session=session, customer_id=customer_id)
    for name in PII_FIELDS:
        setattr(customer, name, None)
    for interaction in session.scalars(select(Interaction).where(
            Interaction.customer_id == customer_id)):
        interaction.subject = interaction.text = interaction.attributes = None
    for prospect in session.scalars(select(Prospect).where(
            Prospect.converted_customer_id == customer_id)):
        for name in ("first_name", "last_name", "company", "email", "email_normalized",
                     "phone_e164", "attributes"):
            setattr(prospect, name, None)
    now = utcnow()
    customer.erased_at = customer.erased_at or now
    customer.updated_at = now
    session.flush()
    # The audit trail's before-images hold the values just erased (docs/audit.md).
    audit_service.scrub_customer(session, customer_id)
    return customer


def _of_customer(table: Any, read: type[IdentifierRead | ConsentRead]) -> Select[Any]:
    return (select(*(table.c[name] for name in read.model_fields))
            .where(table.c.customer_id == bindparam("customer_id")).order_by(table.c.id))


# Built once: the customer 360 runs them on every request.
_IDENTIFIERS = _of_customer(CustomerIdentifier.__table__, IdentifierRead)
_CONSENTS = _of_customer(Consent.__table__, ConsentRead)


def profile_lists(*, session: Session, customer_id: int
                  ) -> tuple[Sequence[Row[Any]], Sequence[Row[Any]]]:
    """The customer's identifiers and consents, oldest first, as rows with the columns
    of IdentifierRead and ConsentRead: the 360 serialises them at once, and two ORM lazy
    loads cost more than the queries."""
    connection = session.connection()
    params = {"customer_id": customer_id}
    return (connection.execute(_IDENTIFIERS, params).all(),
            connection.execute(_CONSENTS, params).all())


def identifiers_of(*, session: Session, customer_id: int) -> Sequence[CustomerIdentifier]:
    return session.scalars(select(CustomerIdentifier).where(
        CustomerIdentifier.customer_id == customer_id)).all()
