"""A list's spec as SQL conditions on ``customer``: each filter defined once.

The filters the customer list already has (stage, value tier, at risk, account manager,
country) are :func:`kithkin.customers.listing.conditions` itself, so a list and the
customers page never disagree on who is "at risk" (and when the at-risk definition moves
to a defection status, both move). The others are here, each a correlated ``EXISTS`` on
an indexed key, so counting or walking a million members is one pass over ``customer``
with index seeks, never a join that multiplies rows.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, Select, and_, exists, func, not_, select
from sqlalchemy.orm import aliased

from kithkin.analytics.models import CustomerMetric
from kithkin.customers import listing
from kithkin.customers.models import Customer, Purpose
from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.lists.spec import ListSpec
from kithkin.privacy import consent as consent_service
from kithkin.relationships.models import (
    CustomerStage,
    RelationshipProfile,
    SegmentLevel,
    StageChange,
)
from kithkin.tags.models import CustomerTag


def conditions(spec: ListSpec, *, as_of: date | None,
               default_stage_model: str | None = None) -> list[ColumnElement[bool]]:
    """Every filter of ``spec`` as a condition on ``customer`` (ANDed by the caller).
    ``as_of`` is the latest refresh (metric filters read it); ``default_stage_model``
    the model a level filter reads when the spec names none."""
    found = listing.conditions(listing.CustomerFilters(
        stage=spec.stage, stage_model=spec.stage_model, tier=spec.value_tier,
        at_risk=spec.at_risk, account_manager_id=spec.account_manager_id,
        country=spec.country), as_of=as_of)
    if spec.clv_min is not None or spec.clv_max is not None:
        found.append(_clv_between(spec.clv_min, spec.clv_max, as_of=as_of))
    if spec.segment_kind and spec.segment:
        found.append(_in_segment(spec.segment_kind, [spec.segment], as_of=as_of))
    if spec.level is not None:
        kind = spec.level_kind or f"stage:{spec.stage_model or default_stage_model}"
        found.append(_at_level(kind, spec.level.value, as_of=as_of))
    if spec.moved_down_since is not None:
        found.append(_moved_down(spec.moved_down_since, spec.moved_down_model))
    if spec.consent_channel is not None:
        found.append(consenting(spec.consent_channel.value))
    for tag in spec.tags:
        found.append(exists().where(CustomerTag.customer_id == Customer.id,
                                    CustomerTag.tag == tag))
    if spec.exclude_tags:
        found.append(not_(exists().where(CustomerTag.customer_id == Customer.id,
                                         CustomerTag.tag.in_(spec.exclude_tags))))
    return found


def members(spec: ListSpec, *, as_of: date | None, scope: CustomerScope = EVERYONE,
            default_stage_model: str | None = None,
            consent_channel: str | None = None) -> list[ColumnElement[bool]]:
    """The whole membership rule: the filters, the caller's scope, live customers only
    (merged-away records and erased people are nobody's audience) and, for an export or
    a send, consent on ``consent_channel``."""
    where = [*scope.customers(), Customer.merged_into_id.is_(None),
             Customer.erased_at.is_(None),
             *conditions(spec, as_of=as_of, default_stage_model=default_stage_model)]
    if consent_channel:
        where.append(consenting(consent_channel))
    return where


def member_ids(where: list[ColumnElement[bool]]) -> Select[int, int | None]:
    """(customer id, account manager id) of every member: what bulk actions select."""
    return select(Customer.id, Customer.account_manager_id).where(*where)


def consenting(channel: str) -> ColumnElement[bool]:
    """The customer has granted marketing on ``channel`` (the consent ledger's current
    state; never asked is not consent): a list is a campaign audience."""
    return consent_service.consent_granted(Customer.id, channel=channel,
                                           purpose=Purpose.MARKETING)


def _clv_between(low: float | None, high: float | None, *,
                 as_of: date | None) -> ColumnElement[bool]:
    metric = aliased(CustomerMetric)
    bounds: list[ColumnElement[bool]] = [metric.clv.is_not(None)]
    if low is not None:
        bounds.append(metric.clv >= low)
    if high is not None:
        bounds.append(metric.clv <= high)
    return exists().where(metric.customer_id == Customer.id, metric.as_of == as_of, *bounds)


def _in_segment(kind: str, segments: ColumnElement[str] | list[str], *,
                as_of: date | None) -> ColumnElement[bool]:
    """In one of ``segments`` of a per-customer segment kind (RFM from the latest
    refresh's metrics; needs segment and value tier from the relationship profile)."""
    if kind == "rfm_segment":
        metric = aliased(CustomerMetric)
        return exists().where(metric.customer_id == Customer.id, metric.as_of == as_of,
                              metric.rfm_segment.in_(segments))
    profile = aliased(RelationshipProfile)
    column = profile.needs_segment if kind == "needs_segment" else profile.value_tier
    return exists().where(profile.customer_id == Customer.id, column.in_(segments))


def _at_level(kind: str, level: str, *, as_of: date | None) -> ColumnElement[bool]:
    """The customer's segment of ``kind`` has ``level`` in force (a user's override wins
    over the recommendation, as everywhere)."""
    in_force = func.coalesce(SegmentLevel.override_level, SegmentLevel.recommended_level)
    segments = select(SegmentLevel.segment).where(SegmentLevel.kind == kind,
                                                  in_force == level).scalar_subquery()
    if kind.startswith("stage:"):
        stage = aliased(CustomerStage)
        return exists().where(stage.customer_id == Customer.id,
                              stage.model == kind.removeprefix("stage:"),
                              stage.stage.in_(segments))
    return _in_segment(kind, segments, as_of=as_of)


def _moved_down(since: date, model: str | None) -> ColumnElement[bool]:
    change = aliased(StageChange)
    where = [change.customer_id == Customer.id, change.direction == "down",
             change.as_of >= since]
    if model:
        where.append(change.model == model)
    return exists().where(and_(*where))



