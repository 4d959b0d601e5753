"""Linking customers, and the referral graph.

A referral is also logged as the referrer's ``referral`` interaction, so the refresh's
``referrals`` count (stage rules, health, the social bond) sees it through the one
computation that already counts referrals, not a second one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from kithkin.connections.models import CustomerLink, LinkKind
from kithkin.customers.models import Customer
from kithkin.database.core import get_or_raise
from kithkin.errors import ConflictError, NotFoundError, ValidationError
from kithkin.interactions.models import Direction, Interaction, InteractionKind

LINKS_SOURCE = "connections"
MAX_DEPTH = 6


@dataclass
class ReferralTree:
    root: int
    # referrer -> the customers they referred, level by level
    edges: list[tuple[int, int]] = field(default_factory=list)
    depth: int = 0
    referred_by: int | None = None

    @property
    def size(self) -> int:
        return len(self.edges)


def link(*, session: Session, from_customer_id: int, to_customer_id: int, kind: LinkKind,
         role: str | None = None, source: str = "staff",
         created_by_id: int | None = None, at: datetime | None = None) -> CustomerLink:
    """Link two customers (idempotent: the same link twice returns the first)."""
    if from_customer_id == to_customer_id:
        raise ValidationError("a customer cannot be linked to themself")
    for customer_id in (from_customer_id, to_customer_id):
        get_or_raise(session, Customer, customer_id, "customer")
    if kind is LinkKind.HOUSEHOLD:  # symmetric: one row per pair
        from_customer_id, to_customer_id = sorted((from_customer_id, to_customer_id))
    stored = session.scalar(select(CustomerLink).where(
        CustomerLink.from_customer_id == from_customer_id,
        CustomerLink.to_customer_id == to_customer_id, CustomerLink.kind == kind))
    if stored is not None:
        return stored
    if kind is LinkKind.REFERRED:
        earlier = session.scalar(select(CustomerLink.from_customer_id).where(
            CustomerLink.to_customer_id == to_customer_id, CustomerLink.kind == kind))
        if earlier is not None:
            raise ConflictError(f"customer {to_customer_id} was already referred by "
                                f"customer {earlier}; a customer is referred once")
        if to_customer_id in _ancestors(session, from_customer_id):
            raise ConflictError(f"customer {to_customer_id} referred customer "
                                f"{from_customer_id}, directly or not: no referral cycle")
    created = CustomerLink(from_customer_id=from_customer_id, to_customer_id=to_customer_id,
                           kind=kind, role=role, source=source, created_by_id=created_by_id)
    session.add(created)
    session.flush()
    if kind is LinkKind.REFERRED:
        session.add(Interaction(
            source=LINKS_SOURCE, external_id=f"link-{created.id}",
            customer_id=from_customer_id, occurred_at=at or datetime.now(UTC),
            kind=InteractionKind.REFERRAL, direction=Direction.INBOUND,
            subject=f"referred customer {to_customer_id}", staff_user_id=created_by_id))
        session.flush()
    return created


def unlink(*, session: Session, customer_id: int, link_id: int) -> None:
    found = session.get(CustomerLink, link_id)
    if found is None or customer_id not in (found.from_customer_id, found.to_customer_id):
        raise NotFoundError(f"customer {customer_id} has no link {link_id}")
    if found.kind == LinkKind.REFERRED:
        session.execute(delete(Interaction).where(
            Interaction.source == LINKS_SOURCE, Interaction.external_id == f"link-{link_id}"))
    session.delete(found)
    session.flush()


def links_of(*, session: Session, customer_id: int) -> list[CustomerLink]:
    return list(session.scalars(select(CustomerLink).where(or_(
        CustomerLink.from_customer_id == customer_id,
        CustomerLink.to_customer_id == customer_id)).order_by(CustomerLink.id)))


def _ancestors(session: Session, customer_id: int) -> set[int]:
    seen: set[int] = set()
    current: int | None = customer_id
    while current is not None and len(seen) < 10_000:
        current = session.scalar(select(CustomerLink.from_customer_id).where(
            CustomerLink.to_customer_id == current, CustomerLink.kind == LinkKind.REFERRED))
        if current is not None:
            if current in seen:
                break
            seen.add(current)
    return seen


def referral_tree(*, session: Session, customer_id: int,
                  depth: int = 3) -> ReferralTree:
    """Whom the customer referred, and whom those referred, ``depth`` levels down (one
    query per level)."""
    get_or_raise(session, Customer, customer_id, "customer")
    tree = ReferralTree(root=customer_id, referred_by=session.scalar(
        select(CustomerLink.from_customer_id).where(
            CustomerLink.to_customer_id == customer_id,
            CustomerLink.kind == LinkKind.REFERRED)))
    level = [customer_id]
    for n in range(min(depth, MAX_DEPTH)):
        rows = session.execute(select(CustomerLink.from_customer_id,
                                      CustomerLink.to_customer_id).where(
            CustomerLink.kind == LinkKind.REFERRED,
            CustomerLink.from_customer_id.in_(level))).all()
        if not rows:
            break
        tree.edges.extend((int(a), int(b)) for a, b in rows)
        tree.depth = n + 1
        level = [int(b) for _, b in rows]
    return tree


def top_referrers(*, session: Session, limit: int = 20) -> list[tuple[int, int]]:
    """(customer id, customers referred directly), most first."""
    count = func.count().label("referred")
    rows = session.execute(select(CustomerLink.from_customer_id, count)
                           .where(CustomerLink.kind == LinkKind.REFERRED)
                           .group_by(CustomerLink.from_customer_id)
                           .order_by(count.desc(), CustomerLink.from_customer_id)
                           .limit(limit)).all()
    return [(int(a), int(b)) for a, b in rows]
