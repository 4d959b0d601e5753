"""Read models of the customer pages: search with keyset pagination, and the 360 view.

Every query here is shaped to use an index, because the customer list must stay fast on
a million customers: no ``COUNT(*)`` of the table, no ``OFFSET``; a page is ``LIMIT n+1``
after a cursor (Winand, *SQL Performance Explained*, "paging through results").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from kithkin.customers.models import Consent, Customer, CustomerIdentifier
from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.database.core import get_or_raise
from kithkin.database.pagination import SortKey, decode_values, encode_values, keyset_page
from kithkin.errors import ValidationError
from kithkin.identity.normalize import normalize_email
from kithkin.interactions.models import Interaction
from kithkin.memberships.models import Membership
from kithkin.metrics import service as metrics_service
from kithkin.metrics.models import CustomerMetric
from kithkin.transactions.models import Transaction
from kithkin.users.models import StaffUser

PAGE_SIZE = 50
MIN_NAME_PREFIX = 2
# The largest code point: "abc" <= x < "abc\U0010ffff" is a prefix range a b-tree serves.
_PREFIX_END = "\U0010ffff"


@dataclass(frozen=True)
class CustomerPage:
    """One page of the customer list; ``next_cursor`` is None on the last page."""

    customers: Sequence[Customer]
    next_cursor: str | None
    exact: Sequence[Customer] = field(default_factory=list)


def _decode(cursor: str, size: int) -> list[Any]:
    values = decode_values(cursor, field="cursor")
    if len(values) != size:
        raise ValidationError("cursor: not a cursor this listing returned")
    return values


_BY_ID = SortKey("id", Customer.id)
# Only customers with an email match an email prefix, so the sort key is never null.
_BY_EMAIL = SortKey("email_normalized", Customer.email_normalized, str)


def _prefix(column: Any, prefix: str) -> ColumnElement[bool]:
    return and_(column >= prefix, column < prefix + _PREFIX_END)


def _case_variants(term: str) -> list[str]:
    return sorted({term, term.lower(), term.capitalize(), term.upper()})


def search_customers(*, session: Session, query: str = "", cursor: str | None = None,
                     limit: int = PAGE_SIZE, scope: CustomerScope = EVERYONE) -> CustomerPage:
    """Customers in ``scope`` matching ``query``, one keyset page at a time.

    - empty query: every live customer by id;
    - a query with ``@``: prefix of the normalised email (index on ``email_normalized``);
    - otherwise: prefix of the last name (index ``ix_customer_name``; the last word, with
      the first word as a first-name prefix when two are given), plus exact matches on an
      external id or customer number listed above the page.
    """
    query = query.strip()
    live = and_(Customer.merged_into_id.is_(None), *scope.customers())
    if not query or "@" in query:
        stmt, key = select(Customer).where(live), _BY_ID
        if query:
            email = normalize_email(query) or query.lower()
            stmt, key = stmt.where(_prefix(Customer.email_normalized, email)), _BY_EMAIL
        rows, next_cursor = keyset_page(session=session, query=stmt, id_column=Customer.id,
                                        key=key, limit=limit, after=cursor,
                                        cursor_field="cursor")
        return CustomerPage(customers=rows, next_cursor=next_cursor)
    after = _decode(cursor, 3) if cursor else None
    words = query.split()
    exact = [] if after else _exact_matches(session=session, term=query, scope=scope)
    if len(words[-1]) < MIN_NAME_PREFIX:
        return CustomerPage(customers=[], next_cursor=None, exact=exact)
    rows = _name_matches(session=session, words=words, after=after, limit=limit,
                         scope=scope)
    page = _page(rows, limit, lambda c: [c.last_name, c.first_name, c.id])
    return CustomerPage(customers=page.customers, next_cursor=page.next_cursor, exact=exact)


def _nulls_first(session: Session) -> bool:
    """SQLite sorts NULL first, PostgreSQL last; the cursor must follow the database."""
    return session.get_bind().dialect.name == "sqlite"


def _after_name(after: list[Any], *, nulls_first: bool) -> list[ColumnElement[bool]]:
    """Rows after (last, first, id) in ORDER BY last_name, first_name, id."""
    last, first, last_id = after[0], after[1], int(after[2])
    same_last = Customer.last_name == last
    if first is None:
        later_in_group = (or_(Customer.first_name.is_not(None), Customer.id > last_id)
                          if nulls_first else
                          and_(Customer.first_name.is_(None), Customer.id > last_id))
    else:
        later_in_group = or_(Customer.first_name > first,
                             and_(Customer.first_name == first, Customer.id > last_id))
        if not nulls_first:
            later_in_group = or_(later_in_group, Customer.first_name.is_(None))
    # The extra ">=" gives the index scan a lower bound, so deep pages start where they are.
    return [Customer.last_name >= last,
            or_(Customer.last_name > last, and_(same_last, later_in_group))]


def _name_matches(*, session: Session, words: list[str], after: list[Any] | None,
                  limit: int, scope: CustomerScope) -> list[Customer]:
    """Last-name prefix matches in (last_name, first_name, id) order.

    Names are stored as written, so each capitalisation of the prefix ("smi", "Smi",
    "SMI") is its own index range. One ordered ``LIMIT n+1`` query per range, merged
    here, keeps every query a walk along ``ix_customer_name`` with no sort of all
    matches, however common the name.
    """
    nulls_first = _nulls_first(session)
    filters: list[ColumnElement[bool]] = [Customer.merged_into_id.is_(None),
                                          *scope.customers()]
    if len(words) > 1:
        filters.append(or_(*(_prefix(Customer.first_name, v)
                             for v in _case_variants(words[0]))))
    if after:
        filters.extend(_after_name(after, nulls_first=nulls_first))
    found: dict[int, Customer] = {}
    for variant in _case_variants(words[-1]):
        stmt = (select(Customer).where(_prefix(Customer.last_name, variant), *filters)
                .order_by(Customer.last_name, Customer.first_name, Customer.id)
                .limit(limit + 1))
        found.update((c.id, c) for c in session.scalars(stmt))

    def order(c: Customer) -> tuple[Any, ...]:
        missing = c.first_name is None
        return (c.last_name, missing != nulls_first, c.first_name or "", c.id)

    return sorted(found.values(), key=order)[:limit + 1]


def _page(rows: Sequence[Customer], limit: int, key: Any) -> CustomerPage:
    more = len(rows) > limit
    shown = list(rows[:limit])
    return CustomerPage(customers=shown,
                        next_cursor=encode_values(key(shown[-1])) if more and shown else None)


def _identifier_sources(session: Session, *, cap: int = 100) -> list[str]:
    """The distinct sources of customer_identifier by a loose index scan: one index seek
    per source (``min(source) > previous``) instead of reading the whole index."""
    sources: list[str] = []
    current = session.scalar(select(func.min(CustomerIdentifier.source)))
    while current is not None and len(sources) < cap:
        sources.append(current)
        current = session.scalar(select(func.min(CustomerIdentifier.source))
                                 .where(CustomerIdentifier.source > current))
    return sources


def _exact_matches(*, session: Session, term: str, scope: CustomerScope) -> list[Customer]:
    """Customers whose external id (any source) or customer number is exactly ``term``.

    The unique index is on (source, external_id); naming every source turns the lookup
    into a few index seeks rather than a scan of all identifiers.
    """
    ids = set(session.scalars(
        select(CustomerIdentifier.customer_id).where(
            CustomerIdentifier.source.in_(_identifier_sources(session)),
            CustomerIdentifier.external_id == term,
        ).limit(20)
    ))
    if term.isdigit():
        ids.add(int(term))
    if not ids:
        return []
    return list(session.scalars(select(Customer).where(Customer.id.in_(ids),
                                                       *scope.customers())
                                .order_by(Customer.id)))


# --- customer 360 -----------------------------------------------------------------------

TIMELINE_PAGE = 25
# Ties on the timestamp are broken by kind rank then id, so the cursor is exact.
_RANK = {"transaction": 2, "interaction": 1}


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    at: datetime
    id: int
    title: str
    detail: str
    amount: float | None = None


@dataclass(frozen=True)
class Timeline:
    entries: Sequence[TimelineEntry]
    next_cursor: str | None


@dataclass(frozen=True)
class CustomerView:
    """Everything the 360 page shows that the store itself holds."""

    customer: Customer
    identifiers: Sequence[CustomerIdentifier]
    consents: dict[str, Consent]
    memberships: Sequence[Membership]
    metrics: CustomerMetric | None
    merged_into: Customer | None
    account_manager: StaffUser | None


def customer_view(*, session: Session, customer_id: int) -> CustomerView:
    customer = get_or_raise(session, Customer, customer_id, "customer")
    identifiers = session.scalars(
        select(CustomerIdentifier).where(CustomerIdentifier.customer_id == customer_id)
        .order_by(CustomerIdentifier.source, CustomerIdentifier.external_id)
    ).all()
    consents = {c.channel: c for c in session.scalars(
        select(Consent).where(Consent.customer_id == customer_id))}
    memberships = session.scalars(
        select(Membership).where(Membership.customer_id == customer_id)
        .order_by(Membership.started_at.desc())
    ).all()
    return CustomerView(
        customer=customer, identifiers=identifiers, consents=consents,
        memberships=memberships,
        metrics=metrics_service.for_customer(session=session, customer_id=customer_id),
        merged_into=(session.get(Customer, customer.merged_into_id)
                     if customer.merged_into_id else None),
        account_manager=(session.get(StaffUser, customer.account_manager_id)
                         if customer.account_manager_id else None),
    )


def _before(column_at: Any, column_id: Any, kind: str,
            cursor: list[Any] | None) -> list[ColumnElement[bool]]:
    if cursor is None:
        return []
    at, rank, last_id = datetime.fromisoformat(cursor[0]), int(cursor[1]), int(cursor[2])
    own = _RANK[kind]
    if own < rank:
        return [column_at <= at]
    if own > rank:
        return [column_at < at]
    return [or_(column_at < at, and_(column_at == at, column_id < last_id))]


def timeline(*, session: Session, customer_id: int, cursor: str | None = None,
             limit: int = TIMELINE_PAGE) -> Timeline:
    """Transactions and interactions, newest first, one keyset page at a time."""
    after = _decode(cursor, 3) if cursor else None
    orders = session.scalars(
        select(Transaction).where(Transaction.customer_id == customer_id,
                                  *_before(Transaction.ordered_at, Transaction.id,
                                           "transaction", after))
        .order_by(Transaction.ordered_at.desc(), Transaction.id.desc()).limit(limit + 1)
    ).all()
    touches = session.scalars(
        select(Interaction).where(Interaction.customer_id == customer_id,
                                  *_before(Interaction.occurred_at, Interaction.id,
                                           "interaction", after))
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc()).limit(limit + 1)
    ).all()
    entries = [_order_entry(t) for t in orders] + [_touch_entry(i) for i in touches]
    entries.sort(key=lambda e: (e.at, _RANK[e.kind], e.id), reverse=True)
    shown = entries[:limit]
    next_cursor = None
    if len(entries) > limit:
        last = shown[-1]
        next_cursor = encode_values([last.at, _RANK[last.kind], last.id])
    return Timeline(entries=shown, next_cursor=next_cursor)


def _order_entry(order: Transaction) -> TimelineEntry:
    units = (f"{order.quantity:g} unit{'' if order.quantity == 1 else 's'}"
             if order.quantity is not None else None)
    parts = [p for p in (units, order.channel, order.source) if p]
    return TimelineEntry(kind="transaction", at=order.ordered_at, id=order.id,
                         title=f"Order {order.order_id}", detail=" · ".join(parts),
                         amount=order.amount)


def _touch_entry(touch: Interaction) -> TimelineEntry:
    title = touch.kind.replace("_", " ").capitalize()
    parts = [touch.direction, touch.channel or "", touch.subject or ""]
    if touch.score is not None:
        parts.append(f"score {touch.score:g}" + (f" ({touch.score_scale})"
                                                if touch.score_scale else ""))
    if touch.status:
        parts.append(touch.status.replace("_", " "))
    return TimelineEntry(kind="interaction", at=touch.occurred_at, id=touch.id, title=title,
                         detail=" · ".join(p for p in parts if p))


def order_history(*, session: Session, customer_id: int,
                  limit: int = 200) -> list[tuple[datetime, float]]:
    """The customer's latest ``limit`` orders as (time, amount), oldest first, for a chart."""
    rows = session.execute(
        select(Transaction.ordered_at, Transaction.amount)
        .where(Transaction.customer_id == customer_id)
        .order_by(Transaction.ordered_at.desc()).limit(limit)
    ).all()
    return [(at, float(amount)) for at, amount in reversed(rows)]
