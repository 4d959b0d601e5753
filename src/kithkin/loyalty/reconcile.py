"""Refund reversals and expiry for the refresh, from one read of the ledger.

The store-side versions (:func:`kithkin.loyalty.ledger._reversals`, :func:`ledger.expire`)
group the whole ledger and scan every order in SQL on each run: at a million customers
that was 17 s of a refresh that had nothing to grant. Here the ledger is read once into
Arrow (five narrow columns) and grouped once per customer (:func:`totals`) and once per
order; the window's orders come from the analytics engine the refresh already holds, and
the same rules run vectorised. Only the few deductions due are looked up in the store
(their source keys, through its unique index) and capped by each customer's balance in
date order exactly as there (``tests/loyalty/test_earning.py`` holds both paths to the
same entries).
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from datetime import date as date_type

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Table, func, select

from kithkin.analytics.engine import AnalyticsSource
from kithkin.database import bulk
from kithkin.loyalty import earning
from kithkin.loyalty.models import EntryKind, LoyaltyEntry
from kithkin.loyalty.programme import Programme

_entry: Table = bulk.table_of(LoyaltyEntry)
LEDGER = ["customer_id", "kind", "points", "transaction_id", "occurred_at"]
ORDERS = pa.schema([("id", pa.int64()), ("customer_id", pa.int64()),
                    ("amount", pa.float64()), ("ordered_at", bulk.UTC_TIMESTAMP)])
FELL = ORDERS.append(pa.field("held", pa.int64()))


def read_ledger(conn: Connection) -> pa.Table:
    """Every entry's customer, kind, points, order and date.

    The largest id stands for the row count (a look-up, not a scan): a ledger past the
    bulk layer's threshold is decoded in C (ADBC, in a child process, reading what is
    committed; the grant reads before it writes), not row by row in Python."""
    size = conn.scalar(select(func.max(_entry.c.id))) or 0
    return bulk.select_to_arrow(conn, select(*(_entry.c[n] for n in LEDGER)),
                                expected_rows=int(size))


def after(ledger: pa.Table, moment: datetime | None) -> pa.ChunkedArray | pa.Array:
    """Which entries occurred after ``moment`` (all when None)."""
    if moment is None:
        return pa.array(np.ones(ledger.num_rows, dtype=bool))
    return pc.greater(ledger["occurred_at"], pa.scalar(moment, bulk.UTC_TIMESTAMP))


def totals(ledger: pa.Table, *, before: datetime | None) -> pd.DataFrame:
    """Per customer (the index), in one grouping: the first entry's date (``first``),
    the balance, the points earned on or before ``before`` (``due``: what expiry looks
    at), the points taken by anything but expiry (``used``) and by expiry (``expired``).
    """
    points = ledger["points"]
    zero = pa.scalar(0, pa.int64())
    expired = pc.equal(ledger["kind"], EntryKind.EXPIRE.value)
    old = pc.and_(pc.greater(points, 0), pc.invert(after(ledger, before)))
    grouped = pa.table({
        "customer_id": ledger["customer_id"], "first": ledger["occurred_at"],
        "balance": points, "due": pc.if_else(old, points, zero),
        "used": pc.if_else(pc.and_(pc.less(points, 0), pc.invert(expired)),
                           pc.negate(points), zero),
        "expired": pc.if_else(expired, pc.negate(points), zero),
    }).group_by("customer_id").aggregate([
        ("first", "min"), ("balance", "sum"), ("due", "sum"), ("used", "sum"),
        ("expired", "sum")])
    frame: pd.DataFrame = grouped.to_pandas().set_index("customer_id")
    return frame.rename(columns=lambda name: name.rsplit("_", 1)[0])


def _net(ledger: pa.Table, earliest: datetime | None) -> pa.Table:
    """Each order's points still held: earned, less what refunds took back, counting
    only entries inside the window (expired points cannot be taken back)."""
    held = pc.and_(pc.and_(
        pc.is_valid(ledger["transaction_id"]),
        pc.is_in(ledger["kind"], value_set=pa.array(
            [EntryKind.EARN.value, EntryKind.REVERSE.value]))), after(ledger, earliest))
    return ledger.filter(held).select(["transaction_id", "points"]).group_by(
        "transaction_id").aggregate([("points", "sum")]).rename_columns(
        ["transaction_id", "held"])


def _fell(orders: ir.Table, net: pa.Table, programme: Programme) -> ir.Table:
    """The orders (of the window) holding points their amount no longer earns, found on
    the engine: only these few leave it, not every order of the window. The points are
    the programme's (:meth:`Programme.orders_points`: the same floor of the same
    product), and :func:`reversals` applies that rule again to what comes back."""
    rules = programme.programme
    held = ibis.memtable(net)
    target = ibis.ifelse(
        orders.amount > 0,
        (orders.amount * rules.points_per_currency_unit).floor().cast("int64")
        + rules.points_per_order, 0)
    joined = orders.join(held, orders.id == held.transaction_id)
    return joined.filter(joined.held > 0, target < joined.held).select(*FELL.names)


def reversals(conn: Connection, programme: Programme, source: AnalyticsSource, *,
              until: datetime, earliest: datetime | None, ledger: pa.Table,
              totals: pd.DataFrame) -> pd.DataFrame:
    """The reversals due for refunds of orders in the window (see
    ``ledger._reversals``), not stored yet, capped by the balances in ``totals``."""
    tx = source.transactions
    window = tx.ordered_at <= until
    if earliest is not None:
        window &= tx.ordered_at > earliest
    orders = tx.filter(window)
    earned = earning.computed(source, _fell(orders, _net(ledger, earliest), programme), FELL)
    held = earned["held"].to_numpy()
    target = programme.orders_points(earned["amount"].to_numpy())
    less = (held > 0) & (target < held)
    fell = earned.filter(pa.array(less)).to_pandas().assign(target=target[less])
    wanted = [pd.DataFrame({
        "customer_id": fell["customer_id"], "transaction_id": fell["id"],
        "points": fell["held"] - fell["target"],
        "source_key": "refund:" + fell["id"].astype(str) + ":" + fell["target"].astype(str),
        "occurred_at": fell["ordered_at"],
        "reason": "order " + fell["id"].astype(str) + " refunded to "
                  + fell["amount"].map("{:.2f}".format)})]
    refunds = earning.computed(source, orders.filter(orders.amount < 0), ORDERS).to_pandas()
    since = refunds["customer_id"].map(totals["first"])
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
    if not due.empty:
        due = due.iloc[bulk.unstored(conn, _entry, due[["source_key"]], key=["source_key"])]
    due = due.sort_values(["occurred_at", "source_key"], kind="stable")
    balance = totals["balance"]
    left = {int(c): int(balance.get(c, 0)) for c in due["customer_id"].unique()}
    taken, reasons = [], []
    for customer, points, reason in zip(due["customer_id"].tolist(), due["points"].tolist(),
                                        due["reason"].tolist(), strict=True):
        take = min(int(points), left[customer])
        left[customer] -= take
        taken.append(-take)
        reasons.append(reason if take == points
                       else f"{reason} (only {take} of {points} points were left)")
    return due.assign(points=pd.Series(taken, index=due.index, dtype="int64"),
                      reason=reasons, kind=EntryKind.REVERSE.value)


def write(conn: Connection, rows: pd.DataFrame, *, now: datetime) -> int:
    """Insert :func:`reversals`' rows; how many were written."""
    if rows.empty:
        return 0
    return bulk.insert_new(conn, _entry, bulk.conform(
        _entry, rows, constants={"created_at": now}), key=["source_key"])


def expiry(conn: Connection, *, as_of: date_type, before: datetime,
           totals: pd.DataFrame, spent: pd.Series, now: datetime) -> int:
    """What is left of points earned on or before ``before`` (see ``ledger.expire``),
    after the deductions ``spent`` since ``totals`` was taken. An expiry already stored
    for the date is left as it is (its source key)."""
    per = totals[["due", "used", "expired", "balance"]]
    if len(spent):
        per = per.add(pd.DataFrame({"used": spent, "balance": -spent}), fill_value=0)
    left = np.minimum(per["due"] - per["used"] - per["expired"], per["balance"])
    left = left[left > 0].astype("int64")
    if left.empty:
        return 0
    rows = pd.DataFrame({"customer_id": left.index, "points": -left.to_numpy()})
    rows["source_key"] = "expiry:" + rows["customer_id"].astype(str) + f":{as_of}"
    rows = rows.assign(kind=EntryKind.EXPIRE.value,
                       occurred_at=datetime.combine(as_of, time(), tzinfo=UTC),
                       reason=f"points earned on or before {before.date()} unused")
    return bulk.insert_new(conn, _entry, bulk.conform(
        _entry, rows, constants={"created_at": now}), key=["source_key"])
