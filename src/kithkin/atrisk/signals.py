"""Non-purchase signals of leaving, per customer as of a date, on the analytics engine.

The at-risk score is trained on these as of the calibration end and applied to them as
of the refresh date, so both come from the same function (a feature computed one way for
training and another for scoring would teach the model something it never sees).
Complaints and satisfaction come from the interaction log; memberships give the
strongest evidence there is, a cancelled contract or an ended subscription.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def compute_at(source: AnalyticsSource, dates: Sequence[date]) -> ibis.Table:
    """:func:`compute` as of each of ``dates`` in one pass over the interactions and
    memberships (the at-risk score reads them as of the calibration end and as of the
    refresh date): column ``<name>_<i>`` is ``<name>`` as of ``dates[i]``, and ``seen_<i>``
    says whether :func:`compute` as of that date has a row for the customer (one
    interaction or membership started by then). The same rules, each event counted for
    the dates it falls on or before."""
    if not dates:
        raise ValueError("compute_at needs at least one date")
    last = max(dates)
    events = source.interactions
    events = events.filter(before_end_of(events.occurred_at, last),
                           events.customer_id.notnull())
    events = events.mutate(day=day_number(events.occurred_at),
                           norm=_normalised_score(events.score_scale, events.score))
    complaint = events.kind == "complaint"
    inter: dict[str, ir.Value] = {}
    for i, day in enumerate(dates):
        end = day_of(day)
        seen = before_end_of(events.occurred_at, day)
        inter[f"i_seen_{i}"] = seen.sum().cast("int64")
        inter[f"complaints_{i}"] = (complaint & seen).sum().cast("int64")
        inter[f"complaints_recent_{i}"] = (complaint & seen & (events.day > end - RECENT_DAYS)
                                           ).sum().cast("int64")
        inter[f"satisfaction_{i}"] = ibis.ifelse(seen & (events.day > end - 365), events.norm,
                                                 ibis.null("float64")).mean().cast("float64")
    inter_table = events.group_by("customer_id").aggregate(**inter)
    rows = source.memberships
    rows = rows.filter(rows.customer_id.notnull(), before_end_of(rows.started_at, last))
    member: dict[str, ir.Value] = {}
    for i, day in enumerate(dates):
        started = before_end_of(rows.started_at, day)
        ended = started & rows.ended_at.notnull() & before_end_of(rows.ended_at, day)
        end_day = ibis.ifelse(ended, day_number(rows.ended_at), ibis.null("int64"))
        member[f"m_seen_{i}"] = started.sum().cast("int64")
        member[f"active_memberships_{i}"] = (started & ~ended).sum().cast("int64")
        member[f"ended_memberships_{i}"] = ended.sum().cast("int64")
        member[f"last_membership_end_day_{i}"] = end_day.max()
        member[f"last_ended_kind_{i}"] = rows.kind.argmax(end_day)
    member_table = rows.group_by("customer_id").aggregate(**member)
    joined = inter_table.outer_join(member_table,
                                    inter_table.customer_id == member_table.customer_id)
    columns: dict[str, ir.Value] = {
        "customer_id": ibis.coalesce(inter_table.customer_id, member_table.customer_id)}
    for i in range(len(dates)):
        columns[f"seen_{i}"] = (inter_table[f"i_seen_{i}"].fill_null(0)
                                + member_table[f"m_seen_{i}"].fill_null(0)) > 0
        columns.update({
            f"complaints_{i}": inter_table[f"complaints_{i}"].fill_null(0),
            f"complaints_recent_{i}": inter_table[f"complaints_recent_{i}"].fill_null(0),
            f"satisfaction_{i}": inter_table[f"satisfaction_{i}"],
            f"active_memberships_{i}": member_table[f"active_memberships_{i}"].fill_null(0),
            f"ended_memberships_{i}": member_table[f"ended_memberships_{i}"].fill_null(0),
            f"last_membership_end_day_{i}": member_table[f"last_membership_end_day_{i}"],
            f"last_ended_kind_{i}": member_table[f"last_ended_kind_{i}"],
        })
    return joined.select(**columns)
