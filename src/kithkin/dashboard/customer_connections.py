"""The connections section of the customer 360 page: referrals, household, contacts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kithkin.config import Settings
from kithkin.connections import service as link_service
from kithkin.connections.models import LinkKind
from kithkin.customers.models import Customer
from kithkin.dashboard.sections import CustomerSection, register_customer_section


@dataclass(frozen=True)
class Connection:
    label: str
    customer_id: int
    name: str


def load(session: Session, customer_id: int, _settings: Settings) -> list[Connection] | None:
    links = link_service.links_of(session=session, customer_id=customer_id)
    if not links:
        return None
    others = {link.to_customer_id if link.from_customer_id == customer_id
              else link.from_customer_id for link in links}
    names = {c.id: c.display_name for c in session.scalars(
        select(Customer).where(Customer.id.in_(others)))}
    rows = []
    for link in links:
        outgoing = link.from_customer_id == customer_id
        other = link.to_customer_id if outgoing else link.from_customer_id
        if link.kind == LinkKind.REFERRED:
            label = "referred" if outgoing else "was referred by"
        elif link.kind == LinkKind.HOUSEHOLD:
            label = "same household as"
        else:
            label = (f"contact ({link.role})" if link.role else "contact") + " of" \
                if outgoing else f"has contact{f' ({link.role})' if link.role else ''}"
        rows.append(Connection(label=label, customer_id=other, name=names.get(other, "?")))
    return rows


register_customer_section(CustomerSection(
    key="connections", title="Connections", template="_customer_connections.html",
    loader=load, order=60))
