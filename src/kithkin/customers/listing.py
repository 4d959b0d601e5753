"""The customer list: filters, sorts and the columns people work from.

One listing for the dashboard's customers page and the REST API's ``GET /customers``:
text search (:mod:`kithkin.customers.search`), filters on the current stage, value tier,
at-risk, account manager and country, and sorts by CLV, P(alive), name or last order,
each a keyset page (:mod:`kithkin.database.pagination`) that stays an index walk at a
million customers: the metric sorts walk ``customer_metric``'s (as_of, value,
customer_id) indexes at the latest refresh; filters are correlated ``EXISTS`` on unique
keys, so a page costs ``LIMIT`` rows (more when a filter is rare), never a sort.

The values come from the latest refresh. Unknown stays unknown: a customer with no CLV
(not refreshed yet, or no model fitted) shows none and comes after every known value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from kithkin.analytics import service as metrics_service
from kithkin.analytics.models import CustomerMetric
from kithkin.customers import search
from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.customers.reference import label
from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.database.pagination import SortKey, keyset_page, parse_sort
from kithkin.errors import KithkinError, ValidationError
from kithkin.relationships.models import CustomerStage, RelationshipProfile
from kithkin.users.models import StaffUser

# A customer whose probability of still buying is below this is "at risk" (the
# overview's at-risk figures use the same line).
AT_RISK_P_ALIVE = 0.5


def _metric_key(name: str, column: Any, kind: type) -> SortKey:
    return SortKey(name, column, kind, nullable=True, tiebreak=CustomerMetric.customer_id)


SORT_KEYS: tuple[SortKey, ...] = (
    search.BY_ID,
    SortKey("created_at", Customer.created_at, datetime),
    SortKey("last_name", Customer.last_name, str, nullable=True),
    SortKey("country", func.coalesce(Customer.country, ""), str),
    _metric_key("clv", CustomerMetric.clv, float),
    _metric_key("p_alive", CustomerMetric.p_alive, float),
    _metric_key("last_order", CustomerMetric.last_purchase_at, datetime),
)
METRIC_SORTS = frozenset({"clv", "p_alive", "last_order"})
SORT_HELP = ("id, created_at, last_name, country, clv, p_alive or last_order; prefix - "
             "for descending. Unknown values come last either way.")


@dataclass(frozen=True)
class CustomerFilters:
    """What narrows the list. ``stage`` is of ``stage_model`` (None: of any model);
    ``at_risk`` True keeps P(alive) below AT_RISK_P_ALIVE, False at or above it (both
    leave out customers whose P(alive) is unknown)."""

    q: str = ""
    stage: str | None = None
    stage_model: str | None = None
    tier: str | None = None
    at_risk: bool | None = None
    account_manager_id: int | None = None
    country: str | None = None
    include_merged: bool = False


@dataclass(frozen=True)
class CustomerRow:
    """A customer with the list's columns (None: unknown)."""

    customer: Customer
    label: str
    stage: str | None
    clv: float | None
    p_alive: float | None
    value_tier: str | None
    last_order_at: datetime | None
    account_manager: str | None

    @property
    def at_risk(self) -> bool | None:
        return None if self.p_alive is None else self.p_alive < AT_RISK_P_ALIVE


@dataclass(frozen=True)
class CustomerList:
    rows: list[CustomerRow]
    next_cursor: str | None
    exact: list[CustomerRow] = field(default_factory=list)
    as_of: date | None = None  # the refresh the values are from
    stage_model: str | None = None  # the model of the stage column


def default_stage_model(*, home: Path) -> str | None:
    """The first active stage model of the workspace at ``home``: the one the customer
    list shows."""
    from kithkin.relationships.workspace import load_config

    try:
        models = load_config(home=home).active_models
    except KithkinError:
        return None
    return models[0] if models else None


def conditions(filters: CustomerFilters, *, as_of: date | None) -> list[ColumnElement[bool]]:
    """The filters as conditions on ``customer``; each an index seek per row."""
    found: list[ColumnElement[bool]] = []
    if filters.account_manager_id is not None:
        found.append(Customer.account_manager_id == filters.account_manager_id)
    if filters.country:
        found.append(Customer.country == filters.country.upper())
    if filters.stage:
        condition = and_(CustomerStage.customer_id == Customer.id,
                         CustomerStage.stage == filters.stage)
        if filters.stage_model:
            condition = and_(condition, CustomerStage.model == filters.stage_model)
        found.append(exists().where(condition))
    if filters.tier:
        found.append(exists().where(RelationshipProfile.customer_id == Customer.id,
                                    RelationshipProfile.value_tier == filters.tier))
    if filters.at_risk is not None:
        # An alias: a metric sort joins customer_metric itself, and the subquery must not
        # correlate with that join.
        metric = aliased(CustomerMetric)
        risk = (metric.p_alive < AT_RISK_P_ALIVE if filters.at_risk
                else metric.p_alive >= AT_RISK_P_ALIVE)
        found.append(exists().where(metric.customer_id == Customer.id, metric.as_of == as_of,
                                    risk))
    return found


def list_customers(*, session: Session, filters: CustomerFilters = CustomerFilters(),
                   sort: str = "id", limit: int = search.PAGE_SIZE, after: str | None = None,
                   scope: CustomerScope = EVERYONE, stage_model: str | None = None,
                   cursor_field: str = "after") -> CustomerList:
    """A keyset page of the customers in ``scope`` meeting ``filters``, in ``sort`` order
    (a text search lists its matches in match order: exact ids, then by name or email).
    ``stage_model`` is the model of the stage column (callers pass the workspace's first
    active one, :func:`default_stage_model`)."""
    as_of = metrics_service.latest_as_of(session=session)
    model = stage_model or filters.stage_model
    where = conditions(filters, as_of=as_of)
    key, descending = parse_sort(sort, SORT_KEYS)
    if filters.q.strip():
        if key is not search.BY_ID or descending:
            raise ValidationError("sort: a search (q) lists matches by name or email; "
                                  "leave sort out, or clear q to sort")
        page = search.search_customers(session=session, query=filters.q, cursor=after,
                                       limit=limit, scope=scope, conditions=where,
                                       include_merged=filters.include_merged,
                                       cursor_field=cursor_field)
        return CustomerList(
            rows=with_columns(session=session, customers=page.customers, as_of=as_of,
                              stage_model=model),
            exact=with_columns(session=session, customers=page.exact, as_of=as_of,
                               stage_model=model),
            next_cursor=page.next_cursor, as_of=as_of, stage_model=model)
    query = select(Customer).where(*scope.customers(), *where)
    if not filters.include_merged:
        query = query.where(Customer.merged_into_id.is_(None))
    nulls_query = None
    if key.name in METRIC_SORTS:
        # Known values: an inner join walked along the (as_of, value, customer_id) index;
        # unknown ones: customers with no such metric row, or a NULL in it.
        on = and_(CustomerMetric.customer_id == Customer.id, CustomerMetric.as_of == as_of)
        query, nulls_query = query.join(CustomerMetric, on), query.outerjoin(CustomerMetric, on)
    customers, cursor = keyset_page(session=session, query=query, id_column=Customer.id,
                                    key=key, descending=descending, limit=limit, after=after,
                                    cursor_field=cursor_field, nulls_query=nulls_query)
    return CustomerList(rows=with_columns(session=session, customers=customers, as_of=as_of,
                                          stage_model=model),
                        next_cursor=cursor, as_of=as_of, stage_model=model)


def with_columns(*, session: Session, customers: Sequence[Customer], as_of: date | None,
                 stage_model: str | None) -> list[CustomerRow]:
    """The list's columns for one page: one query per column source, by primary keys."""
    ids = [c.id for c in customers]
    if not ids:
        return []
    metrics: dict[int, tuple[Any, ...]] = {}
    if as_of is not None:
        metrics = {row[0]: tuple(row[1:]) for row in session.execute(
            select(CustomerMetric.customer_id, CustomerMetric.clv, CustomerMetric.p_alive,
                   CustomerMetric.last_purchase_at)
            .where(CustomerMetric.as_of == as_of, CustomerMetric.customer_id.in_(ids)))}
    stages: dict[int, str] = {}
    if stage_model:
        stages = dict(session.execute(
            select(CustomerStage.customer_id, CustomerStage.stage)
            .where(CustomerStage.model == stage_model, CustomerStage.customer_id.in_(ids))
        ).tuples().all())
    tiers: dict[int, str] = dict(session.execute(
        select(RelationshipProfile.customer_id, RelationshipProfile.value_tier)
        .where(RelationshipProfile.customer_id.in_(ids))).tuples().all())
    manager_ids = {c.account_manager_id for c in customers if c.account_manager_id}
    managers: dict[int, str] = dict(session.execute(
        select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(manager_ids))
    ).tuples().all()) if manager_ids else {}
    nameless = [c.id for c in customers
                if not (c.first_name or c.last_name or c.company or c.email)]
    identifiers: dict[int, list[CustomerIdentifier]] = {}
    if nameless:
        for identifier in session.scalars(select(CustomerIdentifier).where(
                CustomerIdentifier.customer_id.in_(nameless))):
            identifiers.setdefault(identifier.customer_id, []).append(identifier)
    rows = []
    for customer in customers:
        clv, p_alive, last_order = metrics.get(customer.id, (None, None, None))
        rows.append(CustomerRow(
            customer=customer, label=label(customer, identifiers.get(customer.id, [])),
            stage=stages.get(customer.id), clv=clv, p_alive=p_alive,
            value_tier=tiers.get(customer.id), last_order_at=last_order,
            account_manager=(managers.get(customer.account_manager_id)
                             if customer.account_manager_id else None)))
    return rows


def distinct_values(*, session: Session, column: Any, cap: int = 50) -> list[str]:
    """The distinct values of an indexed column by a loose index scan (one seek per
    value), for filter choices: never a scan of the table."""
    values: list[str] = []
    current = session.scalar(select(func.min(column)))
    while current is not None and len(values) < cap:
        values.append(current)
        current = session.scalar(select(func.min(column)).where(column > current))
    return values
