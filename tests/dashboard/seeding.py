"""A small, known store for dashboard tests: named customers, orders over months,
interactions, consents, a refresh's metrics and a finished import with rejects."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kithkin.analytics.models import CustomerMetric, MetricsRun
from kithkin.customers.models import Consent, Customer, CustomerIdentifier
from kithkin.database.core import session_scope
from kithkin.imports.models import ImportJob
from kithkin.interactions.models import Interaction
from kithkin.relationships.engine import PROFILE_INPUTS
from kithkin.relationships.models import (
    CustomerStage,
    RelationshipProfile,
    StageChange,
    StageCount,
)
from kithkin.transactions.models import Transaction
from kithkin.users import service as users_service

PASSWORD = "correct-horse-battery"
ROLES = ("admin", "manager", "agent", "analyst")
NAMED = [("Ada", "Lovelace", "ada@example.com"), ("Alan", "Turing", "alan@example.com"),
         ("Grace", "Hopper", "grace@example.com"), ("Katherine", "Johnson", "kj@example.com")]
# The agent is account manager of these two; agents see only their own customers.
AGENT_BOOK = ("Lovelace", "Turing")
# Enough "Smith"s to need several pages at a small page size.
SMITHS = 7
START = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = CSRF_FIELD.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


def email_of(role: str) -> str:
    return f"{role}@kithkin.test"


def _seed_relationships(session: Session, *, customer_id: int) -> None:
    """One refresh of the relationship engine's tables: a journey model with three stages,
    two moves, and Ada's stage, health scorecard and bonds."""
    as_of = date(2025, 6, 30)
    for rank, (stage, n) in enumerate([("acquaintance", 3), ("friend", 6), ("partner", 2)]):
        session.add(StageCount(as_of=as_of, model="journey", stage=stage, rank=rank,
                               customers=n))
    session.add(CustomerStage(customer_id=customer_id, model="journey", stage="partner",
                              rank=2, since=as_of, as_of=as_of,
                              evidence='{"referrals": 2, "last_nps": 9.0}'))
    session.add(StageChange(customer_id=customer_id, model="journey", as_of=as_of,
                            from_stage="friend", to_stage="partner", from_rank=1,
                            to_rank=2, direction="up", evidence='{"referrals": 2}'))
    session.add(StageChange(customer_id=customer_id + 1, model="journey", as_of=as_of,
                            from_stage="friend", to_stage="acquaintance", from_rank=1,
                            to_rank=0, direction="down", evidence="{}"))
    session.add(RelationshipProfile(
        customer_id=customer_id, as_of=as_of, health_mutual=80.0, health_interactive=65.0,
        health_iterative=50.0, health_ongoing_benefit=70.0, health_behaviour_change=40.0,
        # trust unknown (the data cannot show it): left out of the overall score
        health_unique=30.0, health_trust=None, health_overall=55.8, health_known=6,
        bond_financial=100.0, bond_social=33.3, bond_customization=0.0,
        bond_structural=66.7, switching_barrier=55.0,
        evidence=json.dumps([{"two_way_ratio": 0.5, "has_loyalty": True}.get(name)
                             for name in PROFILE_INPUTS]), value_tier="most_valuable",
        net_margin=120.0,
        potential=300.0, needs_segment=None,
    ))


def seed(engine: Engine, *, reject_dir: Path, metrics: bool = True) -> dict[str, int]:
    """Fill the store; returns ids tests refer to (``ada``, ``job``)."""
    ids: dict[str, int] = {}
    with session_scope(engine) as session:
        staff = {role: users_service.create_user(
            session=session, email=email_of(role), name=f"{role.capitalize()} User",
            password=PASSWORD, role=role) for role in ROLES}
        people = NAMED + [(f"Sam{i}", "Smith", f"sam{i}@example.com") for i in range(SMITHS)]
        for n, (first, last, email) in enumerate(people):
            customer = Customer(first_name=first, last_name=last, email=email,
                                email_normalized=email, city="London", country="GB",
                                acquired_at=START)
            customer.identifiers.append(CustomerIdentifier(source="shop",
                                                           external_id=f"C-{1000 + n}"))
            customer.consents.append(Consent(channel="email", status="granted"))
            customer.consents.append(Consent(channel="sms", status="opted_out"))
            session.add(customer)
            session.flush()
            ids.setdefault(last.lower() if last != "Smith" else "smith", customer.id)
            if last in AGENT_BOOK:
                customer.account_manager_id = staff["agent"].id
            for k in range(n % 4 + 1):  # 1-4 orders, a month apart
                session.add(Transaction(source="shop", order_id=f"O-{n}-{k}",
                                        customer_id=customer.id,
                                        ordered_at=START + timedelta(days=31 * (k + n % 3)),
                                        amount=40.0 + 10 * k + n, channel="web"))
            session.add(Interaction(source="desk", external_id=f"I-{n}",
                                    customer_id=customer.id, occurred_at=START
                                    + timedelta(days=20), direction="inbound",
                                    kind="complaint", channel="email",
                                    subject="Late delivery", status="resolved"))
            if metrics:
                session.add(CustomerMetric(
                    as_of=date(2025, 6, 30), customer_id=customer.id, orders=n % 4 + 1,
                    revenue=100.0 + 50 * n, clv=80.0 + 35 * n, p_alive=0.2 + 0.07 * n,
                    rfm_score="545", rfm_segment="champions", days_since_last_purchase=30.0,
                ))
        if metrics:
            session.add(MetricsRun(as_of=date(2025, 6, 30), engine="duckdb",
                                   customers=len(people), finished_at=START))
            _seed_relationships(session, customer_id=ids["lovelace"])
        reject_dir.mkdir(parents=True, exist_ok=True)
        rejects = reject_dir / "job-1.csv"
        with rejects.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "field", "value", "reason"])
            writer.writerow([3, "email", "not-an-email", "not an email address"])
            writer.writerow([5, "acquired_at", "yesterday", "not a date"])
        job = ImportJob(kind="customers", filename="customers.csv", status="succeeded",
                        rows_read=10, rows_written=8, rows_rejected=2,
                        reject_path=str(rejects), finished_at=START)
        session.add(job)
        session.flush()
        ids["job"] = job.id
    return ids
