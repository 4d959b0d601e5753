"""The loyalty ledger: balance = sum of entries, never negative, each source once."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.errors import ConfigurationError, ValidationError
from kithkin.loyalty import ledger
from kithkin.loyalty import service as loyalty_service
from kithkin.loyalty.models import EntryKind, LoyaltyEntry
from kithkin.loyalty.programme import Programme, parse
from kithkin.memberships.models import Membership
from kithkin.transactions.models import Transaction

PROGRAMME = parse("""
[programme]
points_per_currency_unit = 1.0
points_per_order = 10
expiry_months = 12
[frequency_bonus]
every_nth_order = 3
points = 50
""", file="test.toml")


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def add_customer(session: Session) -> int:
    customer = Customer(first_name="Ada", last_name="Lovelace")
    session.add(customer)
    session.flush()
    return customer.id


def add_order(session: Session, customer_id: int, amount: float, day: str,
              order_id: str | None = None) -> int:
    order = Transaction(source="shop", order_id=order_id or f"o-{day}-{amount}",
                        customer_id=customer_id, ordered_at=at(day), amount=amount)
    session.add(order)
    session.flush()
    return order.id


def kinds(session: Session, customer_id: int) -> list[tuple[str, int]]:
    return [(e.kind, e.points) for e in session.scalars(
        select(LoyaltyEntry).where(LoyaltyEntry.customer_id == customer_id)
        .order_by(LoyaltyEntry.id))]


def test_orders_earn_once_and_every_third_earns_a_bonus(store_engine: Engine) -> None:
    with session_scope(store_engine) as session:
        ada = add_customer(session)
        for day in ("2026-01-05", "2026-02-05", "2026-03-05"):
            add_order(session, ada, 99.99, day)
        first = ledger.grant(session, PROGRAMME, as_of=date(2026, 3, 31))
        again = ledger.grant(session, PROGRAMME, as_of=date(2026, 3, 31))
        assert (first.earned, first.bonuses) == (3, 1)
        assert (again.earned, again.bonuses, again.reversed) == (0, 0, 0)
        assert loyalty_service.balance(session=session, customer_id=ada) == 3 * 109 + 50


def test_refund_reverses_its_order_and_never_goes_negative(store_engine: Engine) -> None:
    with session_scope(store_engine) as session:
        ada = add_customer(session)
        order = add_order(session, ada, 200, "2026-01-05")
        ledger.grant(session, PROGRAMME, as_of=date(2026, 1, 31))
        loyalty_service.redeem(session=session, programme=PROGRAMME, customer_id=ada,
                               points=150, request_key="r1")
        # Re-imported after a full refund: the order's net is now 0.
        session.execute(update(Transaction).where(Transaction.id == order).values(amount=0))
        ledger.grant(session, PROGRAMME, as_of=date(2026, 2, 28))
        ledger.grant(session, PROGRAMME, as_of=date(2026, 2, 28))
        assert kinds(session, ada) == [("earn", 210), ("redeem", -150), ("reverse", -60)]
        assert loyalty_service.balance(session=session, customer_id=ada) == 0
        reversal = session.scalar(select(LoyaltyEntry).where(
            LoyaltyEntry.kind == EntryKind.REVERSE))
        assert reversal is not None and "only 60 of 210" in (reversal.reason or "")


def test_negative_refund_order_takes_back_its_amount(store_engine: Engine) -> None:
    with session_scope(store_engine) as session:
        ada = add_customer(session)
        add_order(session, ada, 120, "2026-01-05", order_id="A1")
        add_order(session, ada, -40, "2026-01-09", order_id="A1-R")
        ledger.grant(session, PROGRAMME, as_of=date(2026, 1, 31))
        assert kinds(session, ada) == [("earn", 130), ("reverse", -40)]


def test_points_expire_oldest_first_after_redemptions(store_engine: Engine) -> None:
    with session_scope(store_engine) as session:
        ada = add_customer(session)
        add_order(session, ada, 90, "2025-01-10")  # 100 points, expire after 2026-01-10
        add_order(session, ada, 190, "2025-06-10")  # 200 points
        ledger.grant(session, PROGRAMME, as_of=date(2025, 6, 30))
        session.add(LoyaltyEntry(customer_id=ada, kind="redeem", points=-70,
                                 source_key="redeem:x", occurred_at=at("2025-07-01")))
        ledger.grant(session, PROGRAMME, as_of=date(2026, 2, 1))
        # 70 of the first lot's 100 were used (oldest first): 30 expire, 200 stay.
        assert kinds(session, ada)[-1] == ("expire", -30)
        assert loyalty_service.balance(session=session, customer_id=ada) == 200
        ledger.grant(session, PROGRAMME, as_of=date(2026, 2, 2))
        assert loyalty_service.balance(session=session, customer_id=ada) == 200
        ledger.grant(session, PROGRAMME, as_of=date(2026, 7, 1))
        assert loyalty_service.balance(session=session, customer_id=ada) == 0


def test_redeem_refuses_more_than_the_balance_and_is_idempotent(
        store_engine: Engine) -> None:
    with session_scope(store_engine) as session:
        ada = add_customer(session)
        add_order(session, ada, 40, datetime.now(UTC).date().isoformat())
        ledger.grant(session, PROGRAMME, as_of=datetime.now(UTC).date())
        with pytest.raises(ValidationError, match="has 50 points; cannot take 51"):
            loyalty_service.redeem(session=session, programme=PROGRAMME, customer_id=ada,
                                   points=51)
        first = loyalty_service.redeem(session=session, programme=PROGRAMME,
                                       customer_id=ada, points=20, request_key="k")
        second = loyalty_service.redeem(session=session, programme=PROGRAMME,
                                        customer_id=ada, points=20, request_key="k")
        assert first.id == second.id
        assert loyalty_service.balance(session=session, customer_id=ada) == 30


def test_enrolled_programme_grants_members_only(sqlite_engine: Engine) -> None:
    enrolled = Programme.model_validate({"programme": {"members": "enrolled"}})
    with session_scope(sqlite_engine) as session:
        member, other = add_customer(session), add_customer(session)
        session.add(Membership(source="crm", external_id="m1", customer_id=member,
                               kind="loyalty", programme="rewards",
                               started_at=at("2026-01-01")))
        add_order(session, member, 10, "2026-02-01")
        add_order(session, other, 10, "2026-02-01", order_id="other")
        add_order(session, member, 10, "2025-12-01", order_id="before-joining")
        ledger.grant(session, enrolled, as_of=date(2026, 3, 1))
        count = session.scalar(select(func.count()).select_from(LoyaltyEntry))
        assert count == 1 and kinds(session, member) == [("earn", 10)]


def test_programme_file_errors_name_file_and_field() -> None:
    with pytest.raises(ConfigurationError, match=r"bad.toml: tiers: .*strictly increase"):
        parse("[[tiers.levels]]\nname='a'\nthreshold=5\n", file="bad.toml")
    with pytest.raises(ConfigurationError, match=r"bad.toml: programme.points_per_order"):
        parse("[programme]\npoints_per_order=-1\n", file="bad.toml")
