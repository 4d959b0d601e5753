"""A small store where every list filter has customers on both sides of it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from kithkin.analytics.models import CustomerMetric, MetricsRun
from kithkin.customers.models import Consent, Customer
from kithkin.relationships.models import (
    CustomerStage,
    RelationshipProfile,
    SegmentLevel,
    StageChange,
)
from kithkin.tags.models import CustomerTag
from kithkin.users import service as user_service
from kithkin.users.models import Role

AS_OF = date(2025, 6, 30)
# name: (stage, clv, p_alive, tier, rfm, consent email, tags, moved down on)
PEOPLE = {
    "Ada": ("partner", 900.0, 0.9, "most_valuable", "champions", "granted", ["vip"], None),
    "Alan": ("friend", 300.0, 0.3, "most_growable", "at_risk", "granted", [],
             date(2025, 6, 30)),
    "Grace": ("friend", 120.0, 0.2, "below_zero", "hibernating", "opted_out", ["vip"],
              date(2025, 1, 31)),
    "Kath": ("acquaintance", None, None, "most_growable", None, None, [], None),
}


def seed(session: Session) -> dict[str, int]:
    """The customers above (plus a merged-away one), a refresh and two staff users;
    returns ids by first name, and "agent"/"manager" user ids."""
    agent = user_service.create_user(session=session, email="agent@example.com",
                                     name="Agent", password="a-long-password",
                                     role=Role.AGENT)
    manager = user_service.create_user(session=session, email="manager@example.com",
                                       name="Manager", password="a-long-password",
                                       role=Role.MANAGER)
    session.add(MetricsRun(as_of=AS_OF, engine="duckdb", customers=4))
    ids: dict[str, int] = {"agent": agent.id, "manager": manager.id}
    for rank, (name, (stage, clv, p_alive, tier, rfm, consent, tags, down)) in enumerate(
            PEOPLE.items()):
        customer = Customer(first_name=name, last_name="Test", email=f"{name}@example.com",
                            country="GB", account_manager_id=agent.id if rank < 2 else None)
        session.add(customer)
        session.flush()
        ids[name] = customer.id
        session.add(CustomerMetric(as_of=AS_OF, customer_id=customer.id, clv=clv,
                                   p_alive=p_alive, rfm_segment=rfm,
                                   last_purchase_at=datetime(2025, 5, 1, tzinfo=UTC)))
        session.add(CustomerStage(customer_id=customer.id, model="journey", stage=stage,
                                  rank=rank, since=AS_OF, as_of=AS_OF, evidence="{}"))
        session.add(RelationshipProfile(
            customer_id=customer.id, as_of=AS_OF, health_known=0, bond_financial=0,
            bond_social=0, bond_customization=0, bond_structural=0, switching_barrier=0,
            evidence="[]", value_tier=tier, net_margin=0, potential=0))
        if consent:
            session.add(Consent(customer_id=customer.id, channel="email", status=consent))
        for tag in tags:
            session.add(CustomerTag(customer_id=customer.id, tag=tag))
        if down:
            session.add(StageChange(customer_id=customer.id, model="journey", as_of=down,
                                    from_stage="partner", to_stage=stage, from_rank=3,
                                    to_rank=rank, direction="down", evidence="{}"))
    for stage, level, override in (("partner", "partnership", None),
                                   ("friend", "accountable", "proactive"),
                                   ("acquaintance", "basic", None)):
        session.add(SegmentLevel(kind="stage:journey", segment=stage, as_of=AS_OF,
                                 customers=1, revenue=0, margin=0, margin_rate=0.25,
                                 size_class="few", margin_class="high",
                                 recommended_level=level, override_level=override))
    merged = Customer(first_name="Gone", last_name="Test", merged_into_id=ids["Ada"],
                      country="GB")
    session.add(merged)
    session.flush()
    return ids
