"""Calendar arithmetic as integers, so every engine agrees to the day.

Timestamps are turned into UTC day numbers (days since 1970-01-01) with
``epoch_seconds() // 86400``, which means the same on DuckDB, PostgreSQL and Spark
whatever the session time zone; dates are compared and subtracted as integers.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

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


def day_number(timestamp: ir.TimestampValue) -> ir.IntegerValue:
    return (timestamp.epoch_seconds() // 86400).cast("int64")


def period_of_day(day: int, unit: TimeUnit) -> int:
    return day if unit == "D" else (day - FIRST_MONDAY) // 7


def period_number(day: ir.IntegerValue, unit: TimeUnit) -> ir.IntegerValue:
    """Index of the day's period: the day itself, or the Monday-based week."""
    return day if unit == "D" else ((day - FIRST_MONDAY) // 7).cast("int64")
