"""Calendar arithmetic as integers, so every engine agrees to the day.

Timestamps are turned into UTC day numbers (days since 1970-01-01) with
``epoch_seconds() // 86400``, which means the same on DuckDB, PostgreSQL and Spark
whatever the session time zone; dates are compared and subtracted as integers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir

TimeUnit = Literal["D", "W"]

EPOCH = date(1970, 1, 1)
# 1970-01-05 was a Monday: pandas' weekly periods ("W" = "W-SUN") start on Mondays.
FIRST_MONDAY = 4


def day_of(value: date | datetime | str) -> int:
    """Day number of a date (a datetime counts by its UTC date)."""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.date()
    return (value - EPOCH).days


def _epoch(value: ir.TimestampValue) -> ir.FloatingValue:
    """DuckDB's ``epoch(timestamptz)``: seconds since 1970-01-01 UTC (run by DuckDB)."""
    raise NotImplementedError


_duckdb_epoch: Callable[[ir.TimestampValue], ir.FloatingValue] = ibis.udf.scalar.builtin(
    _epoch, name="epoch", signature=((dt.Timestamp(timezone="UTC"),), dt.float64))


def _on_duckdb(value: ir.Value) -> bool:
    """``value`` reads tables of one DuckDB connection (in-memory tables alone could
    still run anywhere, so they do not count)."""
    sources = {table.source for table in value.op().find(ops.DatabaseTable)}
    return len(sources) == 1 and next(iter(sources)).name == "duckdb"


def day_number(timestamp: ir.TimestampValue) -> ir.IntegerValue:
    """UTC day number of a timestamp (timestamps with a time zone are instants).

    ibis renders ``epoch_seconds()`` on DuckDB as ``epoch(CAST(ts AS TIMESTAMP))``, a
    time-zone conversion through ICU that costs more than the rest of the scan
    (benchmarks/results/code_figures.md); on a UTC timestamp ``epoch(ts)`` is the same
    number, so DuckDB gets that. Other engines, expressions not bound to a backend yet
    and deferred ones (``_.x``) keep ibis' form.
    """
    if (isinstance(timestamp, ir.Value) and timestamp.type().is_timestamp()
            and timestamp.type().timezone == "UTC" and _on_duckdb(timestamp)):
        return (_duckdb_epoch(timestamp) // 86400).cast("int64")
    return (timestamp.epoch_seconds() // 86400).cast("int64")


def end_of_day(day: date) -> datetime:
    """The first instant after ``day`` (UTC): ``ts < end_of_day(d)`` iff
    ``day_number(ts) <= day_of(d)``, a comparison that needs no day arithmetic per row."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def period_of_day(day: int, unit: TimeUnit) -> int:
    return day if unit == "D" else (day - FIRST_MONDAY) // 7


def period_number(day: ir.IntegerValue, unit: TimeUnit) -> ir.IntegerValue:
    """Index of the day's period: the day itself, or the Monday-based week."""
    return day if unit == "D" else ((day - FIRST_MONDAY) // 7).cast("int64")


def before_end_of(timestamp: ir.TimestampValue, day: date) -> ir.BooleanValue:
    """``timestamp`` falls on or before ``day`` (UTC): compared with the next midnight,
    so the engine filters on the stored value and computes no day number for the rows it
    drops (naive timestamps are read as UTC, as :func:`day_number` does)."""
    cutoff = end_of_day(day)
    if timestamp.type().timezone is None:
        return timestamp < ibis.literal(cutoff.replace(tzinfo=None), type="timestamp")
    return timestamp < ibis.literal(cutoff, type="timestamp('UTC')")
