"""Refund reversals and expiry for the refresh, from one read of the ledger.

The store-side versions (:func:`kithkin.loyalty.ledger._reversals`, :func:`ledger.expire`)
group the whole ledger and scan every order in SQL on each run: at a million customers
that was 17 s of a refresh that had nothing to grant. Here the ledger is read once into
memory (five narrow columns), the window's orders come from the analytics engine the
refresh already holds, and the same rules run vectorised; the deductions are capped by
each customer's balance in date order exactly as there (``tests/loyalty/test_earning.py``
holds both paths to the same entries).
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from datetime import date as date_type

import numpy as np
import pandas as pd
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from kithkin.analytics.engine import AnalyticsSource, to_pandas
from kithkin.database import bulk
from kithkin.loyalty.models import EntryKind, LoyaltyEntry
from kithkin.loyalty.programme import Programme

_entry: Table = bulk.table_of(LoyaltyEntry)
LEDGER = ["customer_id", "kind", "points", "transaction_id", "occurred_at"]


def read_ledger(session: Session) -> tuple[pd.DataFrame, set[str]]:
    """Every entry's customer, kind, points, order and date; the keys of the reversals
    and expiries already stored (the only keys these steps can repeat)."""
    conn = session.connection()
    ledger = bulk.select_to_arrow(conn, select(*(_entry.c[n] for n in LEDGER))).to_pandas()
    keys: set[str] = set(session.scalars(select(_entry.c.source_key).where(
        _entry.c.kind.in_([EntryKind.REVERSE.value, EntryKind.EXPIRE.value]))))
    return ledger, keys


def reversals(session: Session, programme: Programme, source: AnalyticsSource, *,
              until: datetime, earliest: datetime | None, ledger: pd.DataFrame,
              keys: set[str], now: datetime) -> tuple[int, pd.DataFrame]:
    """Refunds of orders in the window (see ``ledger._reversals``); returns how many were
    written and the ledger with them."""
    tx = source.transactions
    window = tx.ordered_at <= until
    if earliest is not None:
        window &= tx.ordered_at > earliest
    orders = to_pandas(source, tx.filter(window).select(
        "id", "customer_id", "amount", "ordered_at"))
    alive = ledger["transaction_id"].notna() & ledger["kind"].isin(
        [EntryKind.EARN.value, EntryKind.REVERSE.value])
    if earliest is not None:
        alive &= ledger["occurred_at"] > earliest
    net = ledger[alive].groupby("transaction_id", sort=False)["points"].sum()
    earned = orders.merge(net.rename("points"), left_on="id", right_index=True)
    earned = earned[earned["points"] > 0].reset_index(drop=True)
    earned["target"] = programme.orders_points(earned["amount"].to_numpy(dtype=float))
    fell = earned[earned["target"] < earned["points"]]
    wanted = [pd.DataFrame({
        "customer_id": fell["customer_id"], "transaction_id": fell["id"],
        "points": fell["points"] - fell["target"],
        "source_key": "refund:" + fell["id"].astype(str) + ":" + fell["target"].astype(str),
        "occurred_at": fell["ordered_at"],
        "reason": "order " + fell["id"].astype(str) + " refunded to "
                  + fell["amount"].map("{:.2f}".format)})]
    refunds = orders[orders["amount"] < 0]
    first = ledger.groupby("customer_id", sort=False)["occurred_at"].min()
    since = refunds["customer_id"].map(first)
    refunds = refunds[since.notna() & (since <= refunds["ordered_at"])]
    owed = programme.orders_points(-refunds["amount"].to_numpy(dtype=float)) \
        - programme.programme.points_per_order
    refunds = refunds.assign(owed=owed)[owed > 0]
    wanted.append(pd.DataFrame({
        "customer_id": refunds["customer_id"], "transaction_id": refunds["id"],
        "points": refunds["owed"], "source_key": "refund:" + refunds["id"].astype(str),
        "occurred_at": refunds["ordered_at"],
        "reason": "refund order " + refunds["id"].astype(str) + " of "
                  + refunds["amount"].map("{:.2f}".format)}))
    due = pd.concat(wanted, ignore_index=True)
    due = due[~due["source_key"].isin(keys)]
    if due.empty:
        return 0, ledger
    due = due.sort_values(["occurred_at", "source_key"], kind="stable")
    balance = ledger.groupby("customer_id", sort=False)["points"].sum()
    left = {int(c): int(balance.get(c, 0)) for c in due["customer_id"].unique()}
    taken, reasons = [], []
    for customer, points, reason in zip(due["customer_id"].tolist(), due["points"].tolist(),
                                        due["reason"].tolist(), strict=True):
        take = min(int(points), left[customer])
        left[customer] -= take
        taken.append(-take)
        reasons.append(reason if take == points
                       else f"{reason} (only {take} of {points} points were left)")
    rows = due.assign(points=taken, reason=reasons, kind=EntryKind.REVERSE.value)
    written = bulk.insert_new(session.connection(), _entry, bulk.conform(
        _entry, rows, constants={"created_at": now}), key=["source_key"])
    return written, pd.concat([ledger, rows[LEDGER]], ignore_index=True)


def expiry(session: Session, *, as_of: date_type, before: datetime, ledger: pd.DataFrame,
           keys: set[str], now: datetime) -> int:
    """What is left of points earned on or before ``before`` (see ``ledger.expire``)."""
    points = ledger["points"]
    expired_kind = ledger["kind"] == EntryKind.EXPIRE.value
    per = pd.DataFrame({
        "customer_id": ledger["customer_id"],
        "due": points.where((points > 0) & (ledger["occurred_at"] <= before), 0),
        "used": (-points).where((points < 0) & ~expired_kind, 0),
        "expired": (-points).where(expired_kind, 0),
        "balance": points}).groupby("customer_id").sum()
    left = np.minimum(per["due"] - per["used"] - per["expired"], per["balance"])
    left = left[left > 0]
    rows = pd.DataFrame({"customer_id": left.index, "points": -left.to_numpy()})
    rows["source_key"] = "expiry:" + rows["customer_id"].astype(str) + f":{as_of}"
    rows = rows[~rows["source_key"].isin(keys)]
    if rows.empty:
        return 0
    rows = rows.assign(kind=EntryKind.EXPIRE.value,
                       occurred_at=datetime.combine(as_of, time(), tzinfo=UTC),
                       reason=f"points earned on or before {before.date()} unused")
    return bulk.insert_new(session.connection(), _entry, bulk.conform(
        _entry, rows, constants={"created_at": now}), key=["source_key"])
