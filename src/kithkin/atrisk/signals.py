"""Non-purchase signals of leaving, per customer as of a date, on the analytics engine.

The at-risk score is trained on these as of the calibration end and applied to them as
of the refresh date, so both come from the same function (a feature computed one way for
training and another for scoring would teach the model something it never sees).
Complaints and satisfaction come from the interaction log; memberships give the
strongest evidence there is, a cancelled contract or an ended subscription.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
from ibis import _

from kithkin.analytics.engine import AnalyticsSource
from kithkin.analytics.features import _normalised_score
from kithkin.analytics.periods import before_end_of, day_number, day_of

SIGNAL_COLUMNS = ("complaints", "complaints_recent", "satisfaction", "active_memberships",
                  "ended_memberships", "last_membership_end_day", "last_ended_kind")
RECENT_DAYS = 180


def interaction_signals(interactions: ir.Table, *, as_of: date) -> ir.Table:
    """Complaints (all, and in the last :data:`RECENT_DAYS`) and the mean NPS/CSAT on a
    0-1 scale over the last year (null without a score)."""
    end = day_of(as_of)
    events = interactions.filter(before_end_of(interactions.occurred_at, as_of),
                                 interactions.customer_id.notnull())
    events = events.mutate(day=day_number(events.occurred_at),
                           norm=_normalised_score(events.score_scale, events.score))
    return events.group_by("customer_id").aggregate(
        complaints=(_.kind == "complaint").sum().cast("int64"),
        complaints_recent=((_.kind == "complaint") & (_.day > end - RECENT_DAYS))
        .sum().cast("int64"),
        satisfaction=ibis.ifelse(_.day > end - 365, _.norm, ibis.null("float64"))
        .mean().cast("float64"),
    )


def membership_signals(memberships: ir.Table, *, as_of: date) -> ir.Table:
    """Memberships active on the day, memberships ended by then, and the day number and
    kind of the last end (a cancelled contract or lapsed membership)."""
    started = memberships.filter(memberships.customer_id.notnull(),
                                 before_end_of(memberships.started_at, as_of))
    ended = started.ended_at.notnull() & before_end_of(started.ended_at, as_of)
    rows = started.mutate(ended=ended,
                          end_day=ibis.ifelse(ended, day_number(started.ended_at),
                                              ibis.null("int64")))
    return rows.group_by("customer_id").aggregate(
        active_memberships=(~_.ended).sum().cast("int64"),
        ended_memberships=_.ended.sum().cast("int64"),
        last_membership_end_day=_.end_day.max(),
        last_ended_kind=_.kind.argmax(_.end_day),
    )


def compute(source: AnalyticsSource, *, as_of: date) -> ibis.Table:
    """Both signal sets, one row per customer with any of them."""
    inter = interaction_signals(source.interactions, as_of=as_of)
    member = membership_signals(source.memberships, as_of=as_of)
    joined = inter.outer_join(member, inter.customer_id == member.customer_id)
    return joined.select(
        customer_id=ibis.coalesce(inter.customer_id, member.customer_id),
        complaints=inter.complaints.fill_null(0),
        complaints_recent=inter.complaints_recent.fill_null(0),
        satisfaction=inter.satisfaction,
        active_memberships=member.active_memberships.fill_null(0),
        ended_memberships=member.ended_memberships.fill_null(0),
        last_membership_end_day=member.last_membership_end_day,
        last_ended_kind=member.last_ended_kind,
    )
