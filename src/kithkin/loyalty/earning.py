"""What orders earn, computed on the analytics engine for the refresh's catch-up.

The refresh grants points for every order up to its as-of date. Asking the store, order
by order, whether each was already granted costs a probe per order of the whole history
on every refresh; the engine instead computes, in one pass over the snapshot the refresh
already holds, every earn and bonus entry the programme implies, and the ledger keeps
the ones it has not stored (:func:`kithkin.loyalty.ledger.grant`). The same rules as the
store-side path that grants single orders as they arrive (:func:`ledger.grant_for_orders`),
which a test holds equal.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from kithkin.analytics.engine import AnalyticsSource, to_pandas
from kithkin.database.bulk import UTC_TIMESTAMP
from kithkin.loyalty.models import EntryKind
from kithkin.loyalty.programme import Programme
from kithkin.memberships.models import MembershipKind

SCHEMA = pa.schema([("customer_id", pa.int64()), ("kind", pa.string()),
                   ("points", pa.int64()), ("transaction_id", pa.int64()),
                   ("occurred_at", UTC_TIMESTAMP)])
PREFIX = {EntryKind.EARN.value: "order:", EntryKind.BONUS.value: "bonus:"}
"""The source key of an earn or bonus entry is this prefix and the order's id."""


def rewarded_orders(source: AnalyticsSource, programme: Programme) -> ir.Table:
    """Orders that count for the programme: a positive amount and, for an enrolled-only
    programme, a loyalty membership current when the order was placed."""
    tx = source.transactions
    orders = tx.filter(tx.amount > 0)
    if programme.programme.members == "all":
        return orders
    members = source.memberships.filter(
        source.memberships.kind == MembershipKind.LOYALTY.value)
    return orders.semi_join(members, [
        orders.customer_id == members.customer_id,
        members.started_at <= orders.ordered_at,
        members.ended_at.isnull() | (members.ended_at > orders.ordered_at)])


def entries(source: AnalyticsSource, programme: Programme, *, until: datetime,
            earliest: datetime | None) -> pa.Table:
    """:func:`expression`, computed."""
    return computed(source, expression(source, programme, until=until, earliest=earliest),
                    SCHEMA)


def unstored(source: AnalyticsSource, implied: ir.Table, granted: pa.Table) -> pa.Table:
    """The entries of ``implied`` (:func:`expression`'s, or a cached copy) whose kind and
    order are not among ``granted``'s, computed: the ledger's keys are matched on the
    engine, so only the new entries leave it (a daily refresh: a few thousand of a
    million), not every entry the programme implies."""
    keys = ibis.memtable(granted.select(["kind", "transaction_id"]))
    return computed(source, implied.anti_join(keys, ["kind", "transaction_id"]), SCHEMA)


def computed(source: AnalyticsSource, expr: ir.Table, schema: pa.Schema) -> pa.Table:
    """``expr``'s columns of ``schema``, computed, as Arrow of that schema (straight from
    engines that hand over Arrow: no pandas round trip of millions of rows)."""
    expr = expr.select(*schema.names)
    if source.engine == "pyspark":
        frame = to_pandas(source, expr)
        return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    table: pa.Table = source.backend.to_pyarrow(expr)
    return table.cast(schema)


def expression(source: AnalyticsSource, programme: Programme, *, until: datetime,
               earliest: datetime | None) -> ir.Table:
    """Every earn and bonus entry for orders placed after ``earliest`` (the expiry
    cut-off: older points would already have expired) and up to ``until``, without its
    source key (:data:`PREFIX` + order id): the ledger builds that only for the entries
    it does not hold yet.

    A bonus goes to every n-th rewarded order of a customer, counted over their whole
    history, so the rank is taken before the window is applied."""
    rules, bonus = programme.programme, programme.frequency_bonus
    orders = rewarded_orders(source, programme)
    orders = orders.filter(orders.ordered_at <= until)
    # amounts are positive, so floor is the store's truncating CAST (DuckDB's rounds)
    earned = orders.select(
        customer_id=orders.customer_id, kind=ibis.literal(EntryKind.EARN.value),
        points=(orders.amount * rules.points_per_currency_unit).floor().cast("int64")
        + rules.points_per_order,
        transaction_id=orders.id, occurred_at=orders.ordered_at)
    if earliest is not None:
        earned = earned.filter(earned.occurred_at > earliest)
    parts = [earned]
    if bonus.every_nth_order > 0 and bonus.points > 0:
        ranked = orders.mutate(n=ibis.row_number().over(
            group_by=orders.customer_id, order_by=[orders.ordered_at, orders.id]) + 1)
        due = ranked.filter(ranked.n % bonus.every_nth_order == 0)
        if earliest is not None:
            due = due.filter(due.ordered_at > earliest)
        parts.append(due.select(
            customer_id=due.customer_id, kind=ibis.literal(EntryKind.BONUS.value),
            points=ibis.literal(bonus.points).cast("int64"),
            transaction_id=due.id, occurred_at=due.ordered_at))
    return ibis.union(*parts) if len(parts) > 1 else parts[0]
