"""A small store for the defection refresh tests: 150 background customers buying as
Poisson processes (some stop), and five named customers whose stage history is known.

1001 Sam    monthly until 2023-06-30, then silent: defected long ago (no task: too old)
1002 Rita   every 30 days, last on 2024-02-11: defected on 2024-06-10 (+ 4 x 30), a task
1003 Carl   monthly, contract ended 2024-06-01, nothing bought since: defected then
1004 Olga   one purchase on 2023-06-01 and nothing since
1005 Wendy  monthly until 2023-12-31, silent, buys again on 2024-06-20: won back
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, insert

from kithkin.customers.models import Customer
from kithkin.memberships.models import Membership
from kithkin.transactions.models import Transaction

START = date(2023, 1, 1)
END = date(2024, 7, 31)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def _monthly(first: date, last: date) -> list[date]:
    days, day = [], first
    while day <= last:
        days.append(day)
        day += timedelta(days=30)
    return days


NAMED: dict[int, tuple[str, list[date]]] = {
    1001: ("Sam", _monthly(date(2023, 1, 1), date(2023, 6, 30))),
    1002: ("Rita", _monthly(date(2023, 1, 17), date(2024, 2, 15))),
    1003: ("Carl", _monthly(date(2023, 2, 20), date(2024, 5, 20))),
    1004: ("Olga", [date(2023, 6, 1)]),
    1005: ("Wendy", [*_monthly(date(2023, 1, 5), date(2023, 12, 31)), date(2024, 6, 20)]),
}


def load(engine: Engine, *, background: int = 150, seed: int = 5) -> None:
    rng = np.random.default_rng(seed)
    customers: list[dict[str, Any]] = []
    purchases: list[tuple[int, date]] = []
    span = (END - START).days
    for cid in range(1, background + 1):
        acquired = int(rng.integers(0, span - 60))
        rate = rng.gamma(1.0, 1 / 30.0)  # about one purchase a month on average
        lifetime = rng.exponential(300.0)
        customers.append({"id": cid, "first_name": f"B{cid}",
                          "acquired_at": _at(START + timedelta(days=acquired))})
        day = float(acquired)
        purchases.append((cid, START + timedelta(days=acquired)))
        while True:
            day += rng.exponential(1 / rate)
            if day > min(span, acquired + lifetime):
                break
            purchases.append((cid, START + timedelta(days=int(day))))
    for cid, (name, days) in NAMED.items():
        customers.append({"id": cid, "first_name": name, "acquired_at": _at(days[0])})
        purchases.extend((cid, d) for d in days)
    rows = [{"id": i + 1, "source": "shop", "order_id": f"o{i + 1}", "customer_id": cid,
             "ordered_at": _at(day), "amount": 60.0, "cost": 30.0}
            for i, (cid, day) in enumerate(sorted(purchases, key=lambda p: p[1]))]
    with engine.begin() as conn:
        conn.execute(insert(Customer), customers)
        conn.execute(insert(Transaction), rows)
        conn.execute(insert(Membership), [{
            "id": 1, "source": "crm", "external_id": "c1", "customer_id": 1003,
            "kind": "contract", "programme": "b2b", "tier": None,
            "started_at": _at(date(2023, 2, 20)), "ended_at": _at(date(2024, 6, 1))}])
