"""A handful of customers whose metrics are computed by hand (as of 2024-06-30).

1 Alice  same-day purchases, a refund, a discount, lines with product costs, a purchase
         after as-of, tickets, NPS/CSAT, memberships, bundle lines, tagged interactions.
2 Bob    a single purchase (a bundle line of a product without a category).
3 Carol  acquired and buying only after as-of.
4 Dan    buys before his recorded acquisition date (counted anyway), same-day purchases.
5 Eve    a zero-value order and a refund that cancels her only purchase's revenue.
6 Frank  no purchase; interactions and memberships only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, insert, null, update

from kithkin.customers.models import Customer
from kithkin.interactions.models import Interaction
from kithkin.memberships.models import Membership
from kithkin.products.models import Product
from kithkin.transactions.models import Transaction, TransactionLine
from kithkin.users.models import StaffUser

AS_OF = date(2024, 6, 30)


def at(day: str, hour: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


CUSTOMERS: list[dict[str, Any]] = [
    {"id": 1, "first_name": "Alice", "acquired_at": at("2024-01-10")},
    {"id": 2, "first_name": "Bob", "acquired_at": None},
    {"id": 3, "first_name": "Carol", "acquired_at": at("2024-08-01")},
    {"id": 4, "first_name": "Dan", "acquired_at": at("2024-03-01")},
    {"id": 5, "first_name": "Eve", "acquired_at": at("2024-02-01")},
    {"id": 6, "first_name": "Frank", "acquired_at": at("2024-01-01")},
]

PRODUCTS: list[dict[str, Any]] = [
    {"id": 1, "sku": "A", "name": "Atlas", "category": "books", "unit_cost": 10.0},
    {"id": 2, "sku": "B", "name": "Bebop", "category": "music", "unit_cost": 5.0},
    {"id": 3, "sku": "C", "name": "Crate", "category": None, "unit_cost": None},
]


def _txn(id_: int, customer: int, when: datetime, amount: float, cost: float | None = None,
         discount: float | None = None) -> dict[str, Any]:
    return {"id": id_, "source": "shop", "order_id": f"o{id_}", "customer_id": customer,
            "ordered_at": when, "amount": amount, "cost": cost, "discount": discount}


TRANSACTIONS: list[dict[str, Any]] = [
    _txn(1, 1, at("2024-01-10", 9), 100.0, cost=60.0),
    _txn(2, 1, at("2024-01-10", 17), 50.0),  # same day; cost from its lines
    _txn(3, 1, at("2024-03-01", 12), 80.0, cost=50.0, discount=10.0),
    _txn(4, 1, at("2024-05-01", 8), 120.0, cost=70.0),
    _txn(5, 1, at("2024-05-03", 8), -20.0, cost=-12.0),  # refund
    _txn(6, 1, at("2024-07-15", 8), 500.0, cost=100.0),  # after as-of
    _txn(7, 2, at("2024-06-01", 10), 40.0, cost=25.0),
    _txn(8, 3, at("2024-08-05", 10), 70.0, cost=30.0),  # after as-of
    _txn(9, 4, at("2024-02-01", 10), 30.0),  # before acquisition
    _txn(10, 4, at("2024-02-01", 23), 20.0),
    _txn(11, 4, at("2024-04-15", 10), 60.0),
    _txn(12, 5, at("2024-02-10", 10), 0.0),  # zero value: not a purchase
    _txn(13, 5, at("2024-04-10", 10), 25.0),
    _txn(14, 5, at("2024-04-20", 10), -25.0),  # refund
]

LINES: list[dict[str, Any]] = [
    {"id": 1, "transaction_id": 2, "line_no": 1, "product_id": 1, "sku": "A", "quantity": 2.0,
     "unit_price": 20.0, "unit_cost": None, "bundle": "starter"},
    {"id": 2, "transaction_id": 2, "line_no": 2, "product_id": 2, "sku": "B", "quantity": 1.0,
     "unit_price": 10.0, "unit_cost": 4.0, "bundle": "starter"},
    {"id": 3, "transaction_id": 4, "line_no": 1, "product_id": 1, "sku": "A", "quantity": 1.0,
     "unit_price": 120.0, "unit_cost": None, "bundle": None},
    # the refund's line takes spend back from its category (the order has its own cost)
    {"id": 4, "transaction_id": 5, "line_no": 1, "product_id": 2, "sku": "B",
     "quantity": -1.0, "unit_price": 20.0, "unit_cost": None, "bundle": None},
    # after as-of (the order has its own cost): no spend, no bundle yet
    {"id": 5, "transaction_id": 6, "line_no": 1, "product_id": 1, "sku": "A", "quantity": 1.0,
     "unit_price": 500.0, "unit_cost": None, "bundle": "gift"},
    # Bob's line: a product without a category counts no category spend
    {"id": 6, "transaction_id": 7, "line_no": 1, "product_id": 3, "sku": "C", "quantity": 2.0,
     "unit_price": 20.0, "unit_cost": None, "bundle": "duo"},
]


def _event(id_: int, customer: int, when: datetime, kind: str, direction: str = "inbound",
           **extra: Any) -> dict[str, Any]:
    row = {"id": id_, "source": "crm", "external_id": f"i{id_}", "customer_id": customer,
           "occurred_at": when, "kind": kind, "direction": direction, "score": None,
           "score_scale": None, "status": None, "resolved_at": None, "tags": None}
    row.update(extra)
    return row


INTERACTIONS: list[dict[str, Any]] = [
    _event(1, 1, at("2024-05-01"), "complaint", status="resolved",
           resolved_at=at("2024-05-02", 12)),
    _event(2, 1, at("2024-06-10"), "complaint", status="open"),
    _event(3, 1, at("2024-06-20"), "email", "outbound", tags=["Event", "spring"]),
    _event(4, 1, at("2024-01-15"), "survey_response", score=8.0, score_scale="nps"),
    _event(5, 1, at("2024-06-15"), "survey_response", score=9.0, score_scale="nps"),
    _event(6, 1, at("2024-06-25"), "survey_response", score=4.0, score_scale="csat"),
    _event(7, 1, at("2024-07-05"), "complaint", status="open",
           tags=["community"]),  # after as-of
    _event(8, 1, at("2024-03-01"), "referral", tags=["community", "event"]),  # counts once
    _event(9, 1, at("2024-06-28"), "complaint", status="resolved",
           resolved_at=at("2024-07-02")),  # resolved only after as-of
    _event(10, 6, at("2024-06-01"), "call", "outbound", tags=["COMMUNITY"]),
    _event(11, 6, at("2024-06-02"), "idea", tags=["events", "my community day"]),  # no tag
    _event(12, 6, at("2024-05-01"), "review", tags=[]),
    _event(13, 6, at("2024-06-03", 9), "service_request", status="resolved",
           resolved_at=at("2024-06-03", 11)),
]

MEMBERSHIPS: list[dict[str, Any]] = [
    {"id": 1, "source": "crm", "external_id": "m1", "customer_id": 1, "kind": "loyalty",
     "programme": "club", "tier": "gold", "started_at": at("2023-01-01"), "ended_at": None},
    {"id": 2, "source": "crm", "external_id": "m2", "customer_id": 1, "kind": "subscription",
     "programme": "box", "tier": None, "started_at": at("2024-01-01"),
     "ended_at": at("2024-06-01")},
    {"id": 3, "source": "crm", "external_id": "m3", "customer_id": 6, "kind": "contract",
     "programme": "b2b", "tier": None, "started_at": at("2024-07-01"), "ended_at": None},
    {"id": 4, "source": "crm", "external_id": "m4", "customer_id": 6, "kind": "loyalty",
     "programme": "club", "tier": "silver", "started_at": at("2024-02-01"),
     "ended_at": at("2024-12-31")},
]


def load(engine: Engine) -> None:
    """Bulk-insert the crafted rows (SQLAlchemy core), in foreign-key order."""
    with engine.begin() as conn:
        conn.execute(insert(Customer), CUSTOMERS)
        conn.execute(insert(Product), PRODUCTS)
        conn.execute(insert(Transaction), TRANSACTIONS)
        conn.execute(insert(TransactionLine), LINES)
        conn.execute(insert(Interaction), INTERACTIONS)
        conn.execute(insert(Membership), MEMBERSHIPS)


# Customer attributes and account managers (relationship inputs), for the engine tests
# only: the relationship tests that load the crafted rows expect none.
STAFF: dict[str, Any] = {"id": 1, "email": "ana@example.com", "name": "Ana", "role": "agent",
                         "password_hash": "x"}
ATTRIBUTES: dict[int, tuple[Any, int | None]] = {  # customer -> (attributes, manager id)
    # a list, ";"-text with a blank part, a float (truncated), true, an object (its keys)
    1: ({"preferences": ["jazz", "tea"], "integrations": "edi; ;api",
         "customized_orders": 2.7, "price_lock": True,
         "shared_processes": {"billing": 1, "returns": 2}}, 1),
    # empty text, false, a negative number, a named account manager
    2: ({"preferences": "", "price_lock": False, "customized_orders": -1.5,
         "account_manager": "Ann"}, None),
    3: (null(), None),  # no attributes at all: no row
    4: ({}, None),  # attributes, none of the keys: a row of false and 0
    5: ({"integrations": 3, "shared_processes": [], "preferences": None}, None),
    6: (None, 1),  # JSON null attributes and an assigned account manager
}


def load_attributes(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(StaffUser), [STAFF])
        for customer_id, (attributes, manager) in ATTRIBUTES.items():
            conn.execute(update(Customer).where(Customer.id == customer_id).values(
                attributes=attributes, account_manager_id=manager))
