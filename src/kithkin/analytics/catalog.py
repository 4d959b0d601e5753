"""The per-customer metrics contract, read off the model: one definition, three uses.

:class:`kithkin.analytics.models.CustomerMetric` is the contract of docs/architecture.md
("Per-customer metrics"). Its columns, in table order, give the metric names and types
that the store writes (:mod:`kithkin.analytics.service`), the API serves
(:class:`kithkin.analytics.schemas.CustomerMetricRead`) and stage rules may use
(:data:`kithkin.relationships.catalog.METRIC_TYPES`). Adding a column to the model adds
it everywhere; ``tests/analytics/test_metric_store.py`` checks the three agree.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Column

from kithkin.analytics.models import CustomerMetric

MetricType = Literal["number", "string", "bool", "date"]

# Row identity, not metrics.
KEY_COLUMNS = ("id", "as_of", "customer_id")

_COLUMNS: list[Column[Any]] = [
    column for column in CustomerMetric.__table__.columns if isinstance(column, Column)]

# The metrics, in table order.
CONTRACT_COLUMNS: tuple[str, ...] = tuple(
    column.name for column in _COLUMNS if column.name not in KEY_COLUMNS)


def python_type(column: Column[Any]) -> type:
    """The Python type a column's values have (``datetime`` for time stamps)."""
    found: type = column.type.python_type
    return found


def metric_type(kind: type) -> MetricType:
    """The rule language's type of a Python type (bool before int: bool is an int)."""
    if issubclass(kind, bool):
        return "bool"
    if issubclass(kind, int | float):
        return "number"
    if issubclass(kind, date | datetime):
        return "date"
    if issubclass(kind, str):
        return "string"
    raise TypeError(f"customer_metric has a column of unsupported type {kind.__name__}")


def _column(name: str) -> Column[Any]:
    return next(column for column in _COLUMNS if column.name == name)


# name -> (Python type, may be NULL): the read model's fields.
CONTRACT_FIELDS: dict[str, tuple[type, bool]] = {
    name: (python_type(_column(name)), bool(_column(name).nullable))
    for name in CONTRACT_COLUMNS
}

CONTRACT_METRICS: dict[str, MetricType] = {
    name: metric_type(kind) for name, (kind, _) in CONTRACT_FIELDS.items()}
