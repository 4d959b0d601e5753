"""Which level, and so which playbook, serves each customer.

A customer's level is their own override (``customer_level_override``) or else the
level in force for their segment (``segment_level``: the user's override of the
segment, else Kotler's recommendation; :mod:`kithkin.relationships.levels`). The
segment kind is the workspace's choice (``segment_kind`` in playbooks.toml, the value
tier by default: the matrix reads a segment's size and margin, and value tiers are the
segments every refresh computes). Customers with neither are served by no playbook and
are counted as such.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from kithkin.analytics.models import CustomerMetric
from kithkin.customers.models import Customer
from kithkin.database import bulk
from kithkin.errors import NotFoundError, ValidationError
from kithkin.playbooks.models import CustomerLevelOverride
from kithkin.relationships.levels import Level
from kithkin.relationships.models import CustomerStage, RelationshipProfile, SegmentLevel


def segment_query(session: Session, kind: str) -> Select[Any]:
    """customer_id, segment for the segment kind."""
    if kind in ("value_tier", "needs_segment"):
        column = getattr(RelationshipProfile, kind)
        query = select(RelationshipProfile.customer_id, column.label("segment"))
    elif kind == "rfm_segment":
        latest = session.scalar(select(func.max(CustomerMetric.as_of)))
        query = select(CustomerMetric.customer_id,
                       CustomerMetric.rfm_segment.label("segment")).where(
            CustomerMetric.as_of == latest)
    else:  # stage:<model>
        query = select(CustomerStage.customer_id, CustomerStage.stage.label("segment")).where(
            CustomerStage.model == kind.removeprefix("stage:"))
    return query


def read_segments(session: Session, kind: str) -> pd.DataFrame:
    query = segment_query(session, kind)
    expected = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return bulk.select_to_arrow(session.connection(), query,
                                expected_rows=expected).to_pandas()


def customer_levels(*, session: Session, segment_kind: str,
                    segments: pd.DataFrame | None = None) -> pd.DataFrame:
    """customer_id, level (and ``source``: override or segment) of every customer served
    by a level; erased customers are left out. ``segments``: already read
    (:func:`segment_query`)."""
    if segments is None:
        segments = read_segments(session, segment_kind)
    in_force = {row.segment: row.override_level or row.recommended_level
                for row in session.execute(select(SegmentLevel).where(
                    SegmentLevel.kind == segment_kind)).scalars()}
    levels = pd.DataFrame({"customer_id": segments["customer_id"].astype("int64"),
                           "level": segments["segment"].map(in_force),
                           "source": "segment"}).dropna(subset=["level"])
    overrides = pd.DataFrame(session.execute(select(
        CustomerLevelOverride.customer_id, CustomerLevelOverride.level)).all(),
        columns=["customer_id", "level"]).assign(source="override")
    if not overrides.empty:
        levels = pd.concat([levels[~levels["customer_id"].isin(overrides["customer_id"])],
                            overrides.astype({"customer_id": "int64"})], ignore_index=True)
    erased = [int(i) for i in session.scalars(select(Customer.id).where(
        Customer.erased_at.is_not(None) | Customer.merged_into_id.is_not(None)))]
    if erased:
        levels = levels[~levels["customer_id"].isin(erased)]
    return levels.reset_index(drop=True)


def set_customer_level(*, session: Session, customer_id: int, level: str, by: str,
                       reason: str | None = None) -> CustomerLevelOverride:
    """Serve one customer at ``level`` whatever their segment's level is."""
    try:
        chosen = Level(level)
    except ValueError as exc:
        raise ValidationError(
            f"unknown level {level!r}; one of {[m.value for m in Level]}") from exc
    if session.get(Customer, customer_id) is None:
        raise NotFoundError(f"no customer {customer_id}")
    row = session.scalar(select(CustomerLevelOverride).where(
        CustomerLevelOverride.customer_id == customer_id))
    if row is None:
        row = CustomerLevelOverride(customer_id=customer_id, level=chosen.value, set_by=by)
        session.add(row)
    row.level, row.set_by, row.reason = chosen.value, by, reason
    row.set_at = datetime.now(UTC)
    session.flush()
    return row


def clear_customer_level(*, session: Session, customer_id: int) -> bool:
    row = session.scalar(select(CustomerLevelOverride).where(
        CustomerLevelOverride.customer_id == customer_id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def level_of(*, session: Session, customer_id: int, segment_kind: str) -> tuple[str | None, str]:
    """One customer's level and where it comes from (override, segment or none)."""
    row = session.scalar(select(CustomerLevelOverride).where(
        CustomerLevelOverride.customer_id == customer_id))
    if row is not None:
        return row.level, "override"
    levels = customer_levels(session=session, segment_kind=segment_kind)
    found = levels.loc[levels["customer_id"] == customer_id, "level"]
    return (str(found.iloc[0]), "segment") if len(found) else (None, "none")
