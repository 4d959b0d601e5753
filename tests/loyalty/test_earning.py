"""The refresh's engine-side grant writes exactly the entries the store-side grant does."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from kithkin.analytics import engine as analytics_engine
from kithkin.config import get_settings
from kithkin.customers.models import Customer
from kithkin.database.core import build_engine, session_scope
from kithkin.database.manage import upgrade
from kithkin.loyalty import ledger
from kithkin.loyalty.models import LoyaltyEntry
from kithkin.loyalty.programme import Programme
from kithkin.memberships.models import Membership
from kithkin.transactions.models import Transaction

AS_OF = date(2026, 6, 30)
START = datetime(2023, 7, 1, tzinfo=UTC)


def fill(engine: Engine, *, seed: int, customers: int = 120) -> None:
    """Orders over three years (some after the as-of date, some refunds, amounts with
    cents), loyalty memberships for about half the customers, some of them ended."""
    rng = np.random.default_rng(seed)
    with session_scope(engine) as session:
        people = [Customer(first_name=f"c{i}") for i in range(customers)]
        session.add_all(people)
        session.flush()
        for person in people:
            for n in range(int(rng.integers(0, 14))):
                day = START + timedelta(days=float(rng.uniform(0, 3 * 365 + 20)))
                amount = round(float(rng.lognormal(3.5, 0.8)), 2)
                if rng.random() < 0.05:
                    amount = -amount
                session.add(Transaction(source="shop", order_id=f"{person.id}-{n}",
                                        customer_id=person.id, ordered_at=day, amount=amount))
            if rng.random() < 0.5:
                joined = START + timedelta(days=float(rng.uniform(0, 900)))
                ended = joined + timedelta(days=200) if rng.random() < 0.3 else None
                session.add(Membership(source="shop", external_id=f"m{person.id}",
                                       customer_id=person.id, kind="loyalty",
                                       programme="rewards", started_at=joined,
                                       ended_at=ended))


def entries(session: Session) -> set[tuple[object, ...]]:
    return {(e.customer_id, e.kind, e.points, e.source_key, e.transaction_id,
             e.occurred_at.replace(tzinfo=None)) for e in session.scalars(select(LoyaltyEntry))}


@pytest.mark.parametrize("members", ["all", "enrolled"])
def test_engine_grant_equals_store_grant(sqlite_engine: Engine, members: str) -> None:
    programme = Programme.model_validate({
        "programme": {"members": members, "points_per_currency_unit": 1.5,
                      "points_per_order": 10, "expiry_months": 12},
        "frequency_bonus": {"every_nth_order": 3, "points": 40}})
    fill(sqlite_engine, seed=3)
    with Session(sqlite_engine) as session:
        by_store = ledger.grant(session, programme, as_of=AS_OF)
        expected = entries(session)
        session.rollback()
    source = analytics_engine.connect(get_settings(), store=sqlite_engine)
    with session_scope(sqlite_engine) as session:
        by_engine = ledger.grant(session, programme, as_of=AS_OF, source=source)
    with Session(sqlite_engine) as session:
        assert entries(session) == expected
    assert (by_engine.earned, by_engine.bonuses, by_engine.reversed, by_engine.expired) == (
        by_store.earned, by_store.bonuses, by_store.reversed, by_store.expired)
    assert by_engine.earned > 0 and by_engine.bonuses > 0
    # nothing before the expiry cut-off was granted: those points would be gone already
    cutoff = datetime(2025, 6, 30, 23, 59, 59)
    assert min(entry[5] for entry in expected if entry[1] == "earn") > cutoff

    with session_scope(sqlite_engine) as session:
        again = ledger.grant(session, programme, as_of=AS_OF, source=source)
    assert (again.earned, again.bonuses, again.reversed, again.expired) == (0, 0, 0, 0)


def test_engine_grant_adds_only_new_orders(sqlite_engine: Engine) -> None:
    programme = Programme.model_validate({"frequency_bonus": {"every_nth_order": 2,
                                                              "points": 5}})
    fill(sqlite_engine, seed=5, customers=30)
    settings = get_settings()
    with session_scope(sqlite_engine) as session:
        ledger.grant(session, programme, as_of=AS_OF,
                     source=analytics_engine.connect(settings, store=sqlite_engine))
        customer = session.scalars(select(Customer)).first()
        assert customer is not None
        session.add_all([Transaction(source="shop", order_id=f"new-{n}",
                                     customer_id=customer.id, amount=20.0,
                                     ordered_at=datetime(2026, 6, 20 + n, tzinfo=UTC))
                         for n in range(2)])
    with session_scope(sqlite_engine) as session:
        later = ledger.grant(session, programme, as_of=AS_OF,
                             source=analytics_engine.connect(settings, store=sqlite_engine))
    assert later.earned == 2 and later.bonuses == 1


def test_engine_grant_follows_store_grant_over_time(sqlite_engine: Engine,
                                                     tmp_path: Path) -> None:
    """Refresh after refresh, with redemptions and orders re-imported at a lower amount
    in between, so refunds are capped by balances and points expire: the engine-side
    grant keeps the same ledger as the store-side one, and a re-run adds nothing."""
    programme = Programme.model_validate({
        "programme": {"members": "all", "points_per_order": 5, "expiry_months": 4},
        "frequency_bonus": {"every_nth_order": 3, "points": 25}})
    by_store = build_engine(f"sqlite:///{tmp_path / 'by-store.db'}")
    upgrade(by_store)
    for engine in (sqlite_engine, by_store):
        fill(engine, seed=13, customers=40)
    settings = get_settings()
    day = date(2024, 1, 31)
    for n in range(16):
        for engine in (sqlite_engine, by_store):
            source = analytics_engine.connect(settings, store=engine) \
                if engine is sqlite_engine else None
            with session_scope(engine) as session:
                ledger.grant(session, programme, as_of=day, source=source)
                if n == 15:
                    again = ledger.grant(session, programme, as_of=day, source=source)
                    assert (again.earned, again.bonuses, again.reversed,
                            again.expired) == (0, 0, 0, 0)
                noon = datetime.combine(day, time(12), tzinfo=UTC)
                for customer, held in ledger.balances(
                        session, list(range(1 + n % 4, 41, 4))).items():
                    if held > 1:
                        session.add(LoyaltyEntry(
                            customer_id=customer, kind="redeem", points=-(held // 2),
                            source_key=f"redeem:{n}:{customer}", occurred_at=noon))
                session.execute(update(Transaction).where(
                    Transaction.id % 9 == n % 9, Transaction.ordered_at <= noon,
                    Transaction.amount > 0).values(amount=Transaction.amount * 0.3))
        day = ledger.months_before(day, -2)
    with Session(sqlite_engine) as session, Session(by_store) as other:
        found = entries(session)
        assert found == entries(other)
        reasons = [e.reason or "" for e in session.scalars(select(LoyaltyEntry))]
    kinds = {entry[1] for entry in found}
    assert {"earn", "bonus", "reverse", "redeem", "expire"} <= kinds
    assert any("points were left" in reason for reason in reasons)
    by_store.dispose()
