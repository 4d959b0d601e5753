"""The metrics contract has one definition, the model: the API's read model and the rule
catalogue follow it column by column."""

from __future__ import annotations

import types
import typing
from datetime import date, datetime

from kithkin.analytics import catalog
from kithkin.analytics.models import CustomerMetric
from kithkin.analytics.schemas import CustomerMetricRead
from kithkin.analytics.service import METRIC_COLUMNS
from kithkin.relationships.catalog import METRIC_TYPES, RELATIONSHIP_INPUTS


def test_every_stored_metric_is_served_and_usable_in_rules() -> None:
    stored = [c.name for c in CustomerMetric.__table__.columns if c.name != "id"]
    assert list(METRIC_COLUMNS) == stored
    assert list(CustomerMetricRead.model_fields) == stored
    assert [name for name in METRIC_TYPES if name not in RELATIONSHIP_INPUTS] == stored[2:]


def test_types_and_nullability_come_from_the_columns() -> None:
    fields = CustomerMetricRead.model_fields
    for column in CustomerMetric.__table__.columns:
        if column.name in catalog.KEY_COLUMNS:
            continue
        annotation = fields[column.name].annotation
        args = set(typing.get_args(annotation)) if isinstance(annotation, types.UnionType) \
            else {annotation}
        assert (type(None) in args) == bool(column.nullable), column.name
    assert fields["orders"].annotation is int  # NOT NULL, default 0
    assert fields["first_purchase_at"].annotation == datetime | None
    assert METRIC_TYPES["first_purchase_at"] == "date"
    assert METRIC_TYPES["has_contract"] == "bool"  # bool before int
    assert METRIC_TYPES["rfm_segment"] == "string"
    assert METRIC_TYPES["clv"] == METRIC_TYPES["orders"] == "number"


def test_metric_type_names_each_python_type() -> None:
    assert [catalog.metric_type(kind) for kind in (bool, int, float, str, date, datetime)] == [
        "bool", "number", "number", "string", "date", "date"]
