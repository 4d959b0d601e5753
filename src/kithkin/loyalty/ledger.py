"""Granting points from orders, set-based, exactly once per source.

A run appends, in this order: points for orders not yet earned; frequency bonuses;
reversals for refunds (a negative order, or an order whose net amount fell on re-import);
expiry of points older than the programme's window. Every entry's ``source_key`` is
unique, so a repeated or overlapping run inserts nothing twice; reversals and expiry
never take a balance below zero (they take what is left and say so in ``reason``).

Orders placed before the expiry cut-off (``expiry_months`` before the as-of date) earn
nothing when first granted: their points would expire in the same run, so granting them
changes no balance, and it would make the first refresh of a long history write (and
expire) a ledger entry per order ever placed. The refresh computes the entries on its
analytics engine (:mod:`kithkin.loyalty.earning`); orders arriving through the events
API are granted here in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    Table,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from kithkin.analytics.engine import AnalyticsSource, release
from kithkin.database import bulk
from kithkin.loyalty import earning, reconcile, references
from kithkin.loyalty.models import EntryKind, LoyaltyEntry
from kithkin.loyalty.programme import Programme
from kithkin.memberships.models import Membership, MembershipKind
from kithkin.transactions.models import Transaction

_entry: Table = LoyaltyEntry.__table__  # type: ignore[assignment]
_tx: Table = Transaction.__table__  # type: ignore[assignment]
Pending = tuple[int, int, int, str, datetime, str]
T = TypeVar("T")


@dataclass
class GrantResult:
    earned: int = 0
    bonuses: int = 0
    reversed: int = 0
    expired: int = 0
    points: dict[str, int] = field(default_factory=dict)


def _key(prefix: str, column: ColumnElement[int]) -> ColumnElement[str]:
    return literal(prefix) + cast(column, String)


def _not_granted(key: ColumnElement[str]) -> ColumnElement[bool]:
    return ~exists().where(_entry.c.source_key == key)


def _had_points() -> ColumnElement[bool]:
    """The order's customer had ledger entries by then: a refund can only take back
    points its customer had (most refunds in a store are not members')."""
    return exists().where(_entry.c.customer_id == _tx.c.customer_id,
                          _entry.c.occurred_at <= _tx.c.ordered_at)


def _member(programme: Programme) -> list[ColumnElement[bool]]:
    if programme.programme.members == "all":
        return []
    membership = Membership.__table__.c
    return [exists().where(
        membership.customer_id == _tx.c.customer_id,
        membership.kind == MembershipKind.LOYALTY,
        membership.started_at <= _tx.c.ordered_at,
        or_(membership.ended_at.is_(None), membership.ended_at > _tx.c.ordered_at))]


def cutoff(programme: Programme, as_of: date) -> datetime | None:
    """The end of the last day whose points have expired by ``as_of`` (None: no expiry)."""
    months = programme.programme.expiry_months
    if months is None:
        return None
    return datetime.combine(months_before(as_of, months), time.max, tzinfo=UTC)


def _scope(transaction_ids: Sequence[int] | None, until: datetime,
           earliest: datetime | None = None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [_tx.c.ordered_at <= until]
    if earliest is not None:
        conditions.append(_tx.c.ordered_at > earliest)
    if transaction_ids is not None:
        conditions.append(_tx.c.id.in_(list(transaction_ids)))
    return conditions


def _earn(session: Session, programme: Programme, scope: list[ColumnElement[bool]],
          now: datetime) -> int:
    rules = programme.programme
    points = cast(_tx.c.amount * rules.points_per_currency_unit, Integer) + \
        rules.points_per_order
    key = _key("order:", _tx.c.id)
    chosen = select(_tx.c.customer_id, literal(EntryKind.EARN.value), points, key, _tx.c.id,
                    _tx.c.ordered_at, literal(now)).where(
        _tx.c.amount > 0, *scope, *_member(programme), _not_granted(key))
    return _insert(session, chosen)


def _bonus(session: Session, programme: Programme, scope: list[ColumnElement[bool]],
           now: datetime, until: datetime) -> int:
    bonus = programme.frequency_bonus
    if bonus.every_nth_order <= 0 or bonus.points <= 0:
        return 0
    # Rank among the customer's purchases that earned points: the bonus rewards the
    # n-th rewarded order, so a refunded-to-zero order does not count.
    ranked = select(
        _tx.c.id, _tx.c.customer_id, _tx.c.ordered_at,
        func.row_number().over(partition_by=_tx.c.customer_id,
                               order_by=(_tx.c.ordered_at, _tx.c.id)).label("n"),
    ).where(_tx.c.amount > 0, _tx.c.ordered_at <= until, _tx.c.customer_id.in_(
        select(_tx.c.customer_id).where(*scope)), *_member(programme)).subquery()
    key = _key("bonus:", ranked.c.id)
    chosen = select(ranked.c.customer_id, literal(EntryKind.BONUS.value),
                    literal(bonus.points), key, ranked.c.id, ranked.c.ordered_at,
                    literal(now)).where(
        ranked.c.n % bonus.every_nth_order == 0,
        ranked.c.id.in_(select(_tx.c.id).where(*scope)), _not_granted(key))
    return _insert(session, chosen)


def _insert(session: Session, chosen: Select[Any]) -> int:
    statement = insert(_entry).from_select(
        ["customer_id", "kind", "points", "source_key", "transaction_id", "occurred_at",
         "created_at"], chosen).returning(_entry.c.id)
    return len(session.execute(statement).all())


def balances(session: Session, customer_ids: Sequence[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for chunk in _chunks(list(customer_ids)):
        rows: Sequence[Any] = session.execute(
            select(_entry.c.customer_id, func.coalesce(func.sum(_entry.c.points), 0))
            .where(_entry.c.customer_id.in_(chunk))
            .group_by(_entry.c.customer_id)).all()
        found.update((int(customer), int(total)) for customer, total in rows)
    return {customer: found.get(customer, 0) for customer in customer_ids}


def _reversals(session: Session, programme: Programme, scope: list[ColumnElement[bool]],
               now: datetime, earliest: datetime | None) -> int:
    """Refunds: a negative order takes back the points its amount would have earned; an
    order whose net amount fell (re-imported after a refund) takes back the difference.
    Each is keyed by the order and the net it reverses to, so a second refund of the same
    order reverses again, and a re-run does not."""
    # points already expired cannot be taken back: only orders inside the window count
    alive = [] if earliest is None else [_entry.c.occurred_at > earliest]
    earned = select(_entry.c.transaction_id, func.sum(_entry.c.points).label("points")) \
        .where(_entry.c.kind.in_([EntryKind.EARN, EntryKind.REVERSE]),
               _entry.c.transaction_id.is_not(None), *alive) \
        .group_by(_entry.c.transaction_id).subquery()
    fell: Sequence[Any] = session.execute(
        select(_tx.c.id, _tx.c.customer_id, _tx.c.amount, _tx.c.ordered_at, earned.c.points)
        .join(earned, earned.c.transaction_id == _tx.c.id)
        .where(*scope, earned.c.points > 0)).all()
    negative: Sequence[Any] = session.execute(
        select(_tx.c.id, _tx.c.customer_id, _tx.c.amount, _tx.c.ordered_at)
        .where(*scope, _tx.c.amount < 0, _had_points(), _not_granted(_key("refund:", _tx.c.id)))
    ).all()
    wanted: list[Pending] = []
    for tx_id, customer_id, amount, ordered_at, points in fell:
        target = programme.order_points(float(amount))
        if target < int(points):
            wanted.append((int(customer_id), int(tx_id), int(points) - target,
                           f"refund:{tx_id}:{target}", ordered_at,
                           f"order {tx_id} refunded to {amount:.2f}"))
    for tx_id, customer_id, amount, ordered_at in negative:
        owed = programme.order_points(-float(amount)) - programme.programme.points_per_order
        if owed > 0:
            wanted.append((int(customer_id), int(tx_id), owed, f"refund:{tx_id}", ordered_at,
                           f"refund order {tx_id} of {amount:.2f}"))
    return _append_capped(session, wanted, EntryKind.REVERSE, now)


def _append_capped(session: Session, wanted: list[Pending],
                   kind: EntryKind, now: datetime) -> int:
    """Append deductions without taking any balance below zero; already-present source
    keys are skipped, so this is idempotent too."""
    if not wanted:
        return 0
    keys = [item[3] for item in wanted]
    present = {row[0] for chunk in _chunks(keys) for row in session.execute(
        select(_entry.c.source_key).where(_entry.c.source_key.in_(chunk)))}
    wanted = [item for item in wanted if item[3] not in present]
    left = balances(session, sorted({item[0] for item in wanted}))
    rows = []
    for customer_id, tx_id, points, key, occurred_at, reason in sorted(
            wanted, key=lambda item: (item[4], item[3])):
        taken = min(points, left[customer_id])
        if taken < points:
            reason += f" (only {taken} of {points} points were left)"
        left[customer_id] -= taken
        rows.append({"customer_id": customer_id, "kind": kind.value, "points": -taken,
                     "source_key": key, "transaction_id": tx_id, "occurred_at": occurred_at,
                     "reason": reason, "created_at": now})
    if rows:
        session.execute(insert(_entry), rows)
    return len(rows)


def _chunks(items: list[T], size: int = 900) -> list[list[T]]:
    return [items[start:start + size] for start in range(0, len(items), size)]


def months_before(day: date, months: int) -> date:
    """The same day ``months`` earlier, or the month's last day when it has fewer."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    following = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(day.day, (following - date(year, month, 1)).days))


def expire(session: Session, programme: Programme, *, as_of: date,
           customer_ids: Sequence[int] | None = None) -> int:
    """Expire, oldest first, what is left of points earned before the window.

    First in, first out: every deduction (redemption, reversal, negative adjustment)
    used the oldest points first, so the points still unused from lots older than the
    cut-off are what was earned before it, less every deduction and earlier expiry,
    never more than the balance."""
    before = cutoff(programme, as_of)
    if before is None:
        return 0
    positive = _entry.c.points > 0
    used = and_(_entry.c.points < 0, _entry.c.kind != EntryKind.EXPIRE)
    totals = select(
        _entry.c.customer_id,
        func.sum(case((and_(positive, _entry.c.occurred_at <= before), _entry.c.points),
                      else_=0)).label("due"),
        func.sum(case((used, -_entry.c.points), else_=0)).label("used"),
        func.sum(case((_entry.c.kind == EntryKind.EXPIRE, -_entry.c.points),
                      else_=0)).label("expired"),
        func.sum(_entry.c.points).label("balance"),
    ).group_by(_entry.c.customer_id)
    if customer_ids is not None:
        totals = totals.where(_entry.c.customer_id.in_(list(customer_ids)))
    now = datetime.now(UTC)
    at = datetime.combine(as_of, time(), tzinfo=UTC)
    rows = []
    grouped: Sequence[Any] = session.execute(totals).all()
    for customer_id, due, used_points, expired, balance in grouped:
        points = min(int(due) - int(used_points) - int(expired), int(balance))
        if points > 0:
            rows.append({"customer_id": customer_id, "kind": EntryKind.EXPIRE.value,
                         "points": -points, "source_key": f"expiry:{customer_id}:{as_of}",
                         "occurred_at": at, "created_at": now,
                         "reason": f"points earned on or before {before.date()} unused"})
    keys = [row["source_key"] for row in rows]
    present = {row[0] for chunk in _chunks(keys) for row in session.execute(
        select(_entry.c.source_key).where(_entry.c.source_key.in_(chunk)))}
    rows = [row for row in rows if row["source_key"] not in present]
    if rows:
        session.execute(insert(_entry), rows)
    return len(rows)


def grant(session: Session, programme: Programme, *, as_of: date,
          transaction_ids: Sequence[int] | None = None,
          source: AnalyticsSource | None = None) -> GrantResult:
    """Bring the ledger up to date with the orders (all, or the given ones).

    With ``source`` (the refresh's analytics engine) the earn and bonus entries of every
    order are computed there and only those not stored yet are inserted, and refunds
    and expiry are worked out from one read of the ledger (:mod:`.reconcile`); otherwise,
    and always for ``transaction_ids``, the store works everything out itself."""
    until = datetime.combine(as_of, time.max, tzinfo=UTC)
    earliest = cutoff(programme, as_of)
    now = datetime.now(UTC)
    scope = _scope(transaction_ids, until, earliest)
    result = GrantResult()
    # the entries this grant adds: ids above it (their references checked at the end
    # when the connection does not check them row by row, see kithkin.loyalty.references)
    after = session.scalar(select(func.max(_entry.c.id))) or 0
    _grant(session, programme, result, as_of=as_of, until=until, earliest=earliest,
           now=now, scope=scope, transaction_ids=transaction_ids, source=source)
    if references.unchecked(session.connection()):
        references.check(session.connection(), _entry, after_id=after)
    return result


def _grant(session: Session, programme: Programme, result: GrantResult, *, as_of: date,
           until: datetime, earliest: datetime | None, now: datetime,
           scope: list[ColumnElement[bool]], transaction_ids: Sequence[int] | None,
           source: AnalyticsSource | None) -> None:
    if source is not None and transaction_ids is None:
        with ThreadPoolExecutor(1) as pool:
            # the store is read while the engine computes every entry the programme
            # implies (kept on the engine); then only those not stored leave it
            reading = pool.submit(reconcile.read_ledger, session.connection())
            implied = earning.expression(source, programme, until=until,
                                         earliest=earliest).cache()
            try:
                ledger = reading.result()
                computed = earning.unstored(source, implied, _granted(ledger, earliest))
            finally:
                release(source, implied)
        conn = session.connection()
        landed, plan = _land(conn, computed, now)
        result.earned = int(pc.sum(pc.equal(landed["kind"], EntryKind.EARN.value)).as_py()
                            or 0)
        result.bonuses = landed.num_rows - result.earned
        try:  # refunds are worked out while the new entries are staged
            ledger = pa.concat_tables([ledger, landed.cast(ledger.schema)])
            totals = reconcile.totals(ledger, before=earliest)
            refunds = reconcile.reversals(conn, programme, source, until=until,
                                          earliest=earliest, ledger=ledger, totals=totals)
        except BaseException:
            plan.discard()
            raise
        # a first grant over a long history (more new entries than stored ones) builds
        # the ledger's other indexes once afterwards
        with bulk.deferred_indexes(conn, _entry) if 2 * landed.num_rows > ledger.num_rows \
                else nullcontext():
            plan.apply()
        result.reversed = reconcile.write(conn, refunds, now=now)
        if earliest is not None:
            spent = -refunds.groupby("customer_id")["points"].sum()
            result.expired = reconcile.expiry(conn, as_of=as_of, before=earliest,
                                              totals=totals, spent=spent, now=now)
        return
    result.earned = _earn(session, programme, scope, now)
    result.bonuses = _bonus(session, programme, scope, now, until)
    result.reversed = _reversals(session, programme, scope, now, earliest)
    if transaction_ids is None:
        result.expired = expire(session, programme, as_of=as_of)


def _granted(ledger: pa.Table, earliest: datetime | None) -> pa.Table:
    """The stored earn and bonus entries inside the window (kind and order): what the
    engine's entries are matched against."""
    granted = pc.and_(pc.and_(
        pc.is_in(ledger["kind"], value_set=pa.array(list(earning.PREFIX), pa.string())),
        pc.is_valid(ledger["transaction_id"])), reconcile.after(ledger, earliest))
    return ledger.filter(granted).select(["kind", "transaction_id"])


def _land(conn: Connection, fresh: pa.Table, now: datetime) -> tuple[pa.Table, bulk.Plan]:
    """The computed earn and bonus entries the ledger does not hold yet (``fresh``, its
    columns) and a plan inserting them, started. The stored ones were left out on the
    engine (:func:`earning.unstored`, against the ledger read once for the whole grant),
    so a daily refresh only writes the new orders' entries; a concurrent grant of the
    same order (the events API) is caught by the unique key."""
    kinds = pa.array(list(earning.PREFIX), pa.string())
    prefixes = pa.array(list(earning.PREFIX.values()), pa.string()).take(
        pc.index_in(fresh.column("kind"), value_set=kinds))
    fresh = fresh.append_column("source_key", pc.binary_join_element_wise(
        prefixes, pc.cast(fresh.column("transaction_id"), pa.string()), ""))
    plan = bulk.Plan(conn)
    if fresh.num_rows:
        # in key order the unique index grows at its end
        fresh = fresh.sort_by("source_key")
        plan.insert_new(_entry, fresh, key=["source_key"], constants={"created_at": now})
        plan.stage()
    return fresh.select(reconcile.LEDGER), plan


def grant_for_orders(session: Session, programme: Programme,
                     orders: Sequence[tuple[str, str]]) -> GrantResult:
    """Points for orders as they arrive (the events API), named by (source, order id);
    the refresh's :func:`grant` catches anything this missed, and neither repeats."""
    ids: list[int] = []
    for chunk in _chunks(list(orders), 400):
        ids.extend(session.scalars(select(_tx.c.id).where(
            tuple_(_tx.c.source, _tx.c.order_id).in_(chunk))))
    if not ids:
        return GrantResult()
    return grant(session, programme, as_of=datetime.now(UTC).date(), transaction_ids=ids)
