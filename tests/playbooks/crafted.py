"""Crafted customers on a fixed clock for the playbook tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import Engine

from kithkin.analytics.models import CustomerMetric
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.interactions.models import Interaction
from kithkin.memberships.models import Membership
from kithkin.playbooks.models import CustomerLevelOverride
from kithkin.relationships.models import StageChange
from kithkin.transactions.models import Transaction
from kithkin.users.models import StaffUser

AS_OF = date(2026, 3, 10)


def at(days_ago: int, hour: int = 12) -> datetime:
    return datetime.combine(AS_OF - timedelta(days=days_ago), time(hour), tzinfo=UTC)


def no_holdout(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "playbooks.toml").write_text("holdout_share = 0.0\n", encoding="utf-8")


def seed(engine: Engine) -> dict[str, int]:
    """One customer per situation; returns their ids by name."""
    ids: dict[str, int] = {}
    with session_scope(engine) as session:
        session.add(StaffUser(email="am@example.com", name="Ann Manager", role="agent",
                              password_hash="x"))
        people = ["basic_buyer", "reactive_buyer", "reactive_old_buyer", "reactive_complainer",
                  "accountable_due", "accountable_too_soon", "accountable_unhappy",
                  "accountable_unresolved", "proactive_90", "proactive_180",
                  "proactive_down", "proactive_ending", "proactive_idea",
                  "proactive_anniversary", "partner_buyer", "partner_quiet",
                  "partner_complainer", "partner_active"]
        for name in people:
            customer = Customer(first_name=name)
            session.add(customer)
            session.flush()
            ids[name] = customer.id
            level = name.split("_")[0].replace("partner", "partnership")
            session.add(CustomerLevelOverride(customer_id=customer.id, level=level,
                                              set_by="test"))

        def order(name: str, days_ago: int, amount: float = 50.0) -> None:
            session.add(Transaction(source="shop", order_id=f"{name}-{days_ago}",
                                    customer_id=ids[name], ordered_at=at(days_ago),
                                    amount=amount))

        def touch(name: str, kind: str, days_ago: int, **extra: object) -> None:
            session.add(Interaction(source="crm", external_id=f"{name}-{kind}-{days_ago}",
                                    customer_id=ids[name], occurred_at=at(days_ago),
                                    direction="inbound", kind=kind, **extra))

        order("basic_buyer", 0)
        order("reactive_buyer", 0)
        order("reactive_old_buyer", 40)
        touch("reactive_complainer", "complaint", 1, status="open")
        order("accountable_due", 3)
        order("accountable_too_soon", 1)
        touch("accountable_unhappy", "survey_response", 2, score=2, score_scale="csat")
        touch("accountable_unresolved", "complaint", 8, status="open")
        order("proactive_90", 90)
        order("proactive_180", 180)
        session.add(StageChange(customer_id=ids["proactive_down"], model="journey",
                                as_of=AS_OF - timedelta(days=2), from_stage="friend",
                                to_stage="acquaintance", from_rank=2, to_rank=1,
                                direction="down", evidence="{}"))
        session.add(Membership(source="crm", external_id="m1",
                               customer_id=ids["proactive_ending"], kind="subscription",
                               programme="care", started_at=at(300),
                               ended_at=at(-25)))
        touch("proactive_idea", "idea", 1)
        order("partner_buyer", 0)
        order("partner_active", 5)
        touch("partner_complainer", "complaint", 0, status="open")
        for name, first, last, orders, recency, frequency in [
                ("proactive_anniversary", 365 * 2 + 3, 20, 4, 700.0, 3.0),
                ("partner_quiet", 400, 120, 5, 300.0, 4.0),  # gap 75 d: quiet from day 113
                ("partner_active", 400, 5, 5, 395.0, 4.0)]:
            session.add(CustomerMetric(as_of=AS_OF, customer_id=ids[name], orders=orders,
                                       frequency=frequency, recency=recency,
                                       first_purchase_at=at(first), last_purchase_at=at(last),
                                       p_alive=0.5))
    return ids
