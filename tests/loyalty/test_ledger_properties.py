"""Any sequence of earn, refund, redeem, expire and adjust keeps the ledger sound."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kithkin.customers.models import Customer
from kithkin.database import registry  # noqa: F401  (every table)
from kithkin.database.base import Base
from kithkin.database.core import build_engine
from kithkin.errors import ValidationError
from kithkin.loyalty import ledger
from kithkin.loyalty import service as loyalty_service
from kithkin.loyalty.models import LoyaltyEntry
from kithkin.loyalty.programme import parse
from kithkin.transactions.models import Transaction

PROGRAMME = parse("""
[programme]
points_per_order = 5
expiry_months = 2
[frequency_bonus]
every_nth_order = 2
points = 7
""", file="property.toml")
START = date(2026, 1, 1)


class LedgerMachine(RuleBasedStateMachine):
    @initialize()
    def open_store(self) -> None:
        self.engine = build_engine("sqlite://")
        Base.metadata.create_all(self.engine)
        self.session = Session(self.engine)
        customer = Customer(first_name="Prop")
        self.session.add(customer)
        self.session.flush()
        self.customer = customer.id
        self.today = START
        self.orders: list[int] = []
        self.keys = 0

    def teardown(self) -> None:
        if hasattr(self, "session"):
            self.session.close()
            self.engine.dispose()

    def _grant(self) -> None:
        ledger.grant(self.session, PROGRAMME, as_of=self.today)

    @rule(amount=st.integers(min_value=-80, max_value=300))
    def order(self, amount: int) -> None:
        at = datetime.combine(self.today, datetime.min.time(), tzinfo=UTC)
        order = Transaction(source="s", order_id=f"o{len(self.orders)}",
                            customer_id=self.customer, ordered_at=at, amount=amount)
        self.session.add(order)
        self.session.flush()
        self.orders.append(order.id)
        self._grant()

    @rule(pick=st.integers(min_value=0, max_value=50), share=st.floats(0, 1))
    def refund(self, pick: int, share: float) -> None:
        if not self.orders:
            return
        order_id = self.orders[pick % len(self.orders)]
        self.session.execute(update(Transaction).where(Transaction.id == order_id)
                             .values(amount=Transaction.amount * share))
        self._grant()

    @rule(points=st.integers(min_value=1, max_value=400))
    def redeem(self, points: int) -> None:
        self.keys += 1
        # More than the balance is refused and writes nothing.
        with contextlib.suppress(ValidationError):
            loyalty_service.redeem(session=self.session, programme=PROGRAMME,
                                   customer_id=self.customer, points=points,
                                   request_key=f"r{self.keys}")

    @rule(points=st.integers(min_value=-300, max_value=300).filter(bool))
    def adjust(self, points: int) -> None:
        self.keys += 1
        with contextlib.suppress(ValidationError):
            loyalty_service.adjust(session=self.session, programme=PROGRAMME,
                                   customer_id=self.customer, points=points,
                                   reason="property", user_id=None,
                                   request_key=f"a{self.keys}")

    @rule(days=st.integers(min_value=1, max_value=120))
    def time_passes(self, days: int) -> None:
        self.today += timedelta(days=days)
        self._grant()

    @rule()
    def rerun_changes_nothing(self) -> None:
        # an adjustment is dated by the real clock, which may lie before this machine's
        # expiry cut-off: the first grant may expire it, a second one changes nothing
        self._grant()
        before = self._entries()
        self._grant()
        ledger.grant(self.session, PROGRAMME, as_of=self.today, transaction_ids=self.orders)
        assert self._entries() == before

    def _entries(self) -> list[tuple[str, int]]:
        return [(e.source_key, e.points) for e in self.session.scalars(
            select(LoyaltyEntry).order_by(LoyaltyEntry.id))]

    @invariant()
    def balance_is_the_sum_and_never_negative(self) -> None:
        if not hasattr(self, "session"):
            return
        points = [p for _, p in self._entries()]
        assert all(running >= 0 for running in accumulate(points))
        assert loyalty_service.balance(session=self.session,
                                       customer_id=self.customer) == sum(points)

    @invariant()
    def each_order_earns_once(self) -> None:
        if not hasattr(self, "session"):
            return
        earned = self.session.execute(
            select(LoyaltyEntry.transaction_id, func.count())
            .where(LoyaltyEntry.kind.in_(["earn", "bonus"]))
            .group_by(LoyaltyEntry.transaction_id, LoyaltyEntry.kind)).all()
        assert all(count == 1 for _, count in earned)


LedgerMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestLedger = LedgerMachine.TestCase
