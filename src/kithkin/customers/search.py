"""Customer text search: the one implementation behind the dashboard's search box and the
REST API's ``GET /customers?q=``.

Every query here is shaped to use an index, because the customer list must stay fast on
a million customers: no ``COUNT(*)`` of the table, no ``OFFSET``, no ``lower(column)``
(which no index serves); a page is ``LIMIT n+1`` after a cursor (Winand, *SQL Performance
Explained*, "paging through results"). What a query matches:

- a query with ``@``: a prefix of the normalised email (index on ``email_normalized``);
- otherwise: a prefix of the last name (index ``ix_customer_name``; the last word, with
  the first word as a first-name prefix when two are given), plus exact matches on an
  external id (any source) or the internal id, listed above the page.

``conditions`` narrow every mode (the customer list's stage, tier, at-risk and account
manager filters, the caller's scope), so a filtered search is still one index walk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.database.pagination import (
    SortKey,
    decode_values,
    encode_values,
    keyset_page,
)
from kithkin.errors import ValidationError
from kithkin.identity.normalize import normalize_email

PAGE_SIZE = 50
MIN_NAME_PREFIX = 2
# The largest code point: "abc" <= x < "abc\U0010ffff" is a prefix range a b-tree serves.
_PREFIX_END = "\U0010ffff"


@dataclass(frozen=True)
class CustomerPage:
    """One page of matches; ``next_cursor`` is None on the last page. ``exact`` (first
    page only) are the customers whose internal or external id is the query itself."""

    customers: Sequence[Customer]
    next_cursor: str | None
    exact: Sequence[Customer] = field(default_factory=list)


def _decode(cursor: str, size: int, cursor_field: str) -> list[Any]:
    values = decode_values(cursor, field=cursor_field)
    if len(values) != size:
        raise ValidationError(f"{cursor_field}: not a cursor this listing returned")
    return values


BY_ID = SortKey("id", Customer.id)
# Only customers with an email match an email prefix, so the sort key is never null.
_BY_EMAIL = SortKey("email_normalized", Customer.email_normalized, str)


def _prefix(column: Any, prefix: str) -> ColumnElement[bool]:
    return and_(column >= prefix, column < prefix + _PREFIX_END)


def _case_variants(term: str) -> list[str]:
    return sorted({term, term.lower(), term.capitalize(), term.upper()})


def is_email_query(query: str) -> bool:
    return "@" in query


def search_customers(*, session: Session, query: str = "", cursor: str | None = None,
                     limit: int = PAGE_SIZE, scope: CustomerScope = EVERYONE,
                     conditions: Sequence[ColumnElement[bool]] = (),
                     include_merged: bool = False,
                     cursor_field: str = "cursor") -> CustomerPage:
    """Customers in ``scope`` meeting ``conditions`` and matching ``query``, one keyset
    page at a time (empty query: every live customer by id)."""
    query = query.strip()
    # An exact id finds a merged-away record too (the page says where it went).
    exact_where = [*scope.customers(), *conditions]
    where = exact_where + ([] if include_merged else [Customer.merged_into_id.is_(None)])
    if not query or is_email_query(query):
        stmt, key = select(Customer).where(*where), BY_ID
        if query:
            email = normalize_email(query) or query.lower()
            stmt, key = stmt.where(_prefix(Customer.email_normalized, email)), _BY_EMAIL
        rows, next_cursor = keyset_page(session=session, query=stmt, id_column=Customer.id,
                                        key=key, limit=limit, after=cursor,
                                        cursor_field=cursor_field)
        return CustomerPage(customers=rows, next_cursor=next_cursor)
    after = _decode(cursor, 3, cursor_field) if cursor else None
    words = query.split()
    exact = [] if after else _exact_matches(session=session, term=query, where=exact_where)
    if len(words[-1]) < MIN_NAME_PREFIX:
        return CustomerPage(customers=[], next_cursor=None, exact=exact)
    rows = _name_matches(session=session, words=words, after=after, limit=limit, where=where)
    more = len(rows) > limit
    shown = rows[:limit]
    last = shown[-1] if shown else None
    return CustomerPage(
        customers=shown, exact=exact,
        next_cursor=(encode_values([last.last_name, last.first_name, last.id])
                     if more and last else None))


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
                  limit: int, where: list[ColumnElement[bool]]) -> list[Customer]:
    """Last-name prefix matches in (last_name, first_name, id) order.

    Names are stored as written, so each capitalisation of the prefix ("smi", "Smi",
    "SMI") is its own index range. One ordered ``LIMIT n+1`` query per range, merged
    here, keeps every query a walk along ``ix_customer_name`` with no sort of all
    matches, however common the name.
    """
    nulls_first = _nulls_first(session)
    filters = list(where)
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


def _exact_matches(*, session: Session, term: str,
                   where: list[ColumnElement[bool]]) -> list[Customer]:
    """Customers whose external id (any source) or internal id is exactly ``term``.

    The unique index is on (source, external_id); naming every source turns the lookup
    into a few index seeks rather than a scan of all identifiers.
    """
    ids = set(session.scalars(
        select(CustomerIdentifier.customer_id).where(
            CustomerIdentifier.source.in_(_identifier_sources(session)),
            CustomerIdentifier.external_id == term,
        ).limit(20)
    ))
    if term.isdigit() and len(term) <= 18:
        ids.add(int(term))
    if not ids:
        return []
    return list(session.scalars(select(Customer).where(Customer.id.in_(ids), *where)
                                .order_by(Customer.id)))
