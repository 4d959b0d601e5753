"""Complaint lifecycle, per-1,000 rates, service times, recovery groups and defection
drivers on a crafted store whose every figure is worked out by hand below."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.errors import ConflictError, NotFoundError, ValidationError
from kithkin.interactions.models import Interaction
from kithkin.products.models import Product
from kithkin.retention import complaints
from kithkin.transactions.models import Transaction, TransactionLine

JAN = datetime(2025, 1, 1, tzinfo=UTC)


def _order(session: Session, customer: int, day: datetime, channel: str,
           product: Product) -> None:
    order = Transaction(source="shop", order_id=f"{customer}-{day:%m%d}", customer_id=customer,
                        ordered_at=day, amount=50.0, channel=channel)
    order.lines.append(TransactionLine(line_no=1, product_id=product.id, sku=product.sku,
                                       quantity=1, unit_price=50.0))
    session.add(order)


def _complaint(session: Session, customer: int, at: datetime, **values: object) -> int:
    row = Interaction(source="desk", external_id=f"K{customer}", customer_id=customer,
                      occurred_at=at, direction="inbound", kind="complaint",
                      channel="email", status="open", **values)
    session.add(row)
    session.flush()
    return row.id


@pytest.fixture
def store(sqlite_engine: Engine) -> tuple[Engine, dict[str, int]]:
    """c1: orders Jan 10 (shoes, web), Aug 1 (shoes, web); complaint Jan 15, answered
    after 2 h, resolved after 26 h.  c2: order Jan 5 (books, web); complaint Jan 25, open.
    c3: orders Jan 20 (shoes, web), Sep 1 (shoes, store); never complains.
    c4: complaint Jan 1 before any order, open; order Jan 30 (shoes, web)."""
    with session_scope(sqlite_engine) as session:
        shoe = Product(sku="S1", name="Boot", category="shoes")
        book = Product(sku="B1", name="Novel", category="books")
        session.add_all([shoe, book])
        people = [Customer(first_name=f"C{i}") for i in range(1, 5)]
        session.add_all(people)
        session.flush()
        c1, c2, c3, c4 = (p.id for p in people)
        _order(session, c1, JAN + timedelta(days=9), "web", shoe)
        _order(session, c1, datetime(2025, 8, 1, tzinfo=UTC), "web", shoe)
        _order(session, c2, JAN + timedelta(days=4), "web", book)
        _order(session, c3, JAN + timedelta(days=19), "web", shoe)
        _order(session, c3, datetime(2025, 9, 1, tzinfo=UTC), "store", shoe)
        _order(session, c4, JAN + timedelta(days=29), "web", shoe)
        k1 = _complaint(session, c1, JAN + timedelta(days=14))
        k2 = _complaint(session, c2, JAN + timedelta(days=24))
        k4 = _complaint(session, c4, JAN)
        complaints.respond(session=session, complaint_id=k1,
                           at=JAN + timedelta(days=14, hours=2))
        complaints.resolve(session=session, complaint_id=k1,
                           at=JAN + timedelta(days=15, hours=2))
        complaints.respond(session=session, complaint_id=k2,
                           at=JAN + timedelta(days=24, hours=5))
        return sqlite_engine, {"c1": c1, "c2": c2, "c3": c3, "c4": c4, "k1": k1, "k2": k2,
                               "k4": k4}


AS_OF = date(2025, 12, 31)


def test_lifecycle_moves_and_refusals(store: tuple[Engine, dict[str, int]]) -> None:
    engine, ids = store
    with session_scope(engine) as session:
        k1 = session.get(Interaction, ids["k1"])
        assert k1 is not None and complaints.lifecycle_state(k1) == "resolved"
        k2 = session.get(Interaction, ids["k2"])
        assert k2 is not None and complaints.lifecycle_state(k2) == "responded"
        first = k2.responded_at
        complaints.respond(session=session, complaint_id=ids["k2"])  # again: first kept
        assert k2.responded_at == first
        with pytest.raises(ConflictError):
            complaints.respond(session=session, complaint_id=ids["k1"])
        with pytest.raises(ValidationError, match="before the complaint"):
            complaints.resolve(session=session, complaint_id=ids["k4"],
                               at=JAN - timedelta(days=1))
        with pytest.raises(NotFoundError):
            complaints.resolve(session=session, complaint_id=999_999)
        # resolving an unanswered complaint answers it at the same time
        k4 = complaints.resolve(session=session, complaint_id=ids["k4"],
                                at=JAN + timedelta(hours=10))
        assert k4.responded_at == k4.resolved_at
        session.rollback()


def test_complaints_per_thousand_orders(store: tuple[Engine, dict[str, int]]) -> None:
    engine, _ = store
    with session_scope(engine) as session:
        by_category = complaints.complaint_rates(session, as_of=AS_OF, by="category")
        by_channel = complaints.complaint_rates(session, as_of=AS_OF, by="channel")
        by_product = complaints.complaint_rates(session, as_of=AS_OF, by="product")
    # January: 4 orders (3 shoes, 1 book, all web); c1's complaint is about shoes, c2's
    # about the book; c4's came before any order of theirs (unattributed).
    assert by_category.rates["shoes"]["2025-01"] == pytest.approx(1000 / 3)
    assert by_category.rates["books"]["2025-01"] == pytest.approx(1000.0)
    assert by_category.rates["books"]["2025-08"] is None  # no book orders: no rate
    assert by_category.rates["shoes"]["2025-08"] == 0.0
    assert by_category.unattributed == 1
    assert by_channel.rates["web"]["2025-01"] == pytest.approx(500.0)
    assert by_product.rates["Boot"]["2025-01"] == pytest.approx(1000 / 3)


def test_service_times_and_share_resolved(store: tuple[Engine, dict[str, int]]) -> None:
    engine, _ = store
    with session_scope(engine) as session:
        times = complaints.service_times(session, as_of=AS_OF)
        early = complaints.service_times(session, as_of=date(2025, 1, 15))
    assert (times.complaints, times.responded, times.resolved) == (3, 2, 1)
    assert times.share_resolved == pytest.approx(1 / 3)
    assert times.median_hours_to_response == pytest.approx(3.5)  # 2 h and 5 h
    assert times.median_hours_to_resolution == pytest.approx(26.0)
    # as of Jan 15 the resolution (Jan 16) had not happened yet; c1's answer had
    assert (early.complaints, early.resolved, early.responded) == (2, 0, 1)


def test_service_recovery_groups(store: tuple[Engine, dict[str, int]]) -> None:
    engine, _ = store
    with session_scope(engine) as session:
        point, groups = complaints.service_recovery(session, as_of=AS_OF, horizon_days=180)
    assert point == date(2025, 7, 4)
    found = {g.group: (g.customers, g.retained) for g in groups}
    assert found == {"never complained": (1, 1), "complained, all resolved": (1, 1),
                     "complained, some unresolved": (2, 0)}
    unresolved = next(g for g in groups if g.group == "complained, some unresolved")
    assert unresolved.rate == 0.0 and unresolved.lower == 0.0 and unresolved.upper is not None


def test_defection_drivers(store: tuple[Engine, dict[str, int]]) -> None:
    engine, _ = store
    with session_scope(engine) as session:
        drivers = complaints.defection_drivers(session, as_of=AS_OF, lapse_days=200)
    # lapsed (last order > 200 days before Dec 31): c2 (book, Jan 5) and c4 (shoes, Jan 30)
    found = {(d.dimension, d.value): d for d in drivers}
    assert found[("category", "books")].defectors == 1
    assert found[("category", "books")].lift is None  # no other customer bought books last
    assert found[("category", "shoes")].share_of_defectors == 0.5
    assert found[("category", "shoes")].lift == pytest.approx(0.5)
