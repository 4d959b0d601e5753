"""Find the one customer a person means: by internal id, external id, email or name.

People know their customers by the id of their own shop or CRM, by email or by name,
rarely by kithkin's row id. Every CLI command that takes a customer resolves it here:

- ``id:42`` the internal id; ``ext:SOURCE:ID`` an external id in one source;
  ``email:ADDRESS``; explicit, so never ambiguous;
- a bare reference is tried every way that fits: digits as an internal id and as an
  external id (any source), an address with ``@`` as an email (normalised), anything else
  as an external id and as a name ("First Last", the company, or a last name alone).

One customer found: that one. Several: :class:`AmbiguousReferenceError` lists each with
how it matched and the explicit reference that picks it. Merged-away records are not
matched by email or name (their survivor is); an internal or external id of a merged
record still finds it, and the caller shows where it went.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.errors import NotFoundError, ValidationError
from kithkin.identity.normalize import normalize_email

# Enough to choose from; a name shared by more people needs a narrower reference.
MAX_CANDIDATES = 10


class AmbiguousReferenceError(ValidationError):
    """A reference that fits several customers; the message lists them."""


@dataclass(frozen=True)
class Match:
    customer: Customer
    how: str  # "internal id", "external id shop:C-1", "email", "name"


def label(customer: Customer, identifiers: list[CustomerIdentifier] | None = None) -> str:
    """What people call this customer: the name, else the company, email or an external
    id; "customer N" only when the record holds none of them (an erased customer)."""
    name = " ".join(p for p in (customer.first_name, customer.last_name) if p)
    if name or customer.company or customer.email:
        return name or customer.company or customer.email or ""
    found = identifiers if identifiers is not None else customer.identifiers
    if found:
        first = min(found, key=lambda i: i.id or 0)
        return f"{first.source}:{first.external_id}"
    return f"customer {customer.id}"


def _by_external(session: Session, external_id: str,
                 source: str | None = None) -> list[Match]:
    query = select(CustomerIdentifier).where(CustomerIdentifier.external_id == external_id)
    if source is not None:
        query = query.where(CustomerIdentifier.source == source)
    return [Match(identifier.customer, f"external id {identifier.source}:{external_id}")
            for identifier in session.scalars(query.limit(MAX_CANDIDATES + 1))]


def _by_email(session: Session, text: str) -> list[Match]:
    email = normalize_email(text) or text.strip().lower()
    return [Match(c, "email") for c in session.scalars(
        select(Customer).where(Customer.email_normalized == email,
                               Customer.merged_into_id.is_(None))
        .order_by(Customer.id).limit(MAX_CANDIDATES + 1))]


def _by_name(session: Session, text: str) -> list[Match]:
    """Whole names, case-insensitive: "First Last", a last name alone, or a company."""
    words = text.lower().split()
    if not words:
        return []
    live = Customer.merged_into_id.is_(None)
    full = func.lower(Customer.last_name) == words[-1]
    if len(words) > 1:
        full &= func.lower(Customer.first_name) == " ".join(words[:-1])
    found = [Match(c, "name") for c in session.scalars(
        select(Customer).where(full, live).order_by(Customer.id).limit(MAX_CANDIDATES + 1))]
    found += [Match(c, "company") for c in session.scalars(
        select(Customer).where(func.lower(Customer.company) == " ".join(words), live)
        .order_by(Customer.id).limit(MAX_CANDIDATES + 1))]
    return found


def _by_id(session: Session, text: str) -> list[Match]:
    if not text.isdigit() or len(text) > 18:
        return []
    customer = session.get(Customer, int(text))
    return [Match(customer, "internal id")] if customer is not None else []


def candidates(*, session: Session, reference: str) -> list[Match]:
    """Every customer ``reference`` could mean, each once (first way it matched)."""
    text = reference.strip()
    if not text:
        raise ValidationError("customer: give an id, ext:SOURCE:ID, an email or a name")
    kind, _, rest = text.partition(":")
    if kind == "id" and rest:
        return _by_id(session, rest)
    if kind == "ext" and rest:
        source, _, external_id = rest.partition(":")
        if not external_id:
            raise ValidationError(f"customer: {text!r}: write ext:SOURCE:ID, e.g. ext:shop:C-1")
        return _by_external(session, external_id, source)
    if kind == "email" and rest:
        return _by_email(session, rest)
    if "@" in text:
        found = _by_email(session, text) + _by_external(session, text)
    elif text.isdigit():
        found = _by_id(session, text) + _by_external(session, text)
    else:
        found = _by_external(session, text) + _by_name(session, text)
    unique: dict[int, Match] = {}
    for match in found:
        unique.setdefault(match.customer.id, match)
    return list(unique.values())


def explicit_reference(match: Match) -> str:
    """The reference that names this match unambiguously."""
    if match.how.startswith("external id "):
        return "ext:" + match.how.removeprefix("external id ")
    return f"id:{match.customer.id}"


def resolve(*, session: Session, reference: str, scope: CustomerScope = EVERYONE) -> Customer:
    """The one customer ``reference`` names; NotFoundError when none,
    AmbiguousReferenceError (listing the candidates) when several."""
    found = [m for m in candidates(session=session, reference=reference)
             if scope.everyone or m.customer.account_manager_id == scope.account_manager_id]
    if not found:
        raise NotFoundError(
            f"no customer matches {reference!r} (tried: internal id, external id, email "
            "and name; write id:N, ext:SOURCE:ID or email:ADDRESS to be explicit)")
    if len(found) == 1:
        return found[0].customer
    shown = found[:MAX_CANDIDATES]
    lines = [f"  {explicit_reference(m)}  {label(m.customer)} (matched by {m.how})"
             for m in shown]
    more = ("\n  ... and more: narrow the reference" if len(found) > MAX_CANDIDATES else "")
    raise AmbiguousReferenceError(
        f"{reference!r} matches {len(found)} customers; use one of:\n" + "\n".join(lines)
        + more)
