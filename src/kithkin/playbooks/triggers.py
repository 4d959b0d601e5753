"""Set-based trigger evaluation: one query per rule over the stored facts.

Each function returns the occurrences of one rule's trigger that are *due* as of a date:
a frame of ``customer_id`` (int64), ``occurrence`` (text naming what occurred: an
order, interaction, stage-change or membership id, a lapse episode's start date, an
anniversary year) and ``occurred_on`` (date). An occurrence is due when the day it
asks for action (``occurred_on`` + the rule's ``delay_days``, or the trigger's own
day: a complaint's ``days``, a membership's ``days_before``) lies in the rule's window,
the ``window_days`` up to and including the as-of. The window keeps a first run (or a
new playbook) from acting on years of history; the dedupe key (playbook, rule,
customer, occurrence) keeps overlapping windows of later runs from acting twice.

Every query reads whole columns at once (no loop per customer), so a run after a
refresh of a million customers is a handful of scans (``benchmarks/playbooks.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from kithkin.analytics.engine import AnalyticsSource, to_pandas
from kithkin.analytics.models import CustomerMetric
from kithkin.database import bulk
from kithkin.interactions.models import Interaction, InteractionKind, TicketStatus
from kithkin.memberships.models import Membership
from kithkin.playbooks.definitions import Rule
from kithkin.relationships.models import StageChange
from kithkin.transactions.models import Transaction

COLUMNS = ["customer_id", "occurrence", "occurred_on"]
# Triggers fed by single events (evaluated as events arrive); the others read what a
# refresh computed (metrics, stage history) or the calendar.
EVENT_TRIGGERS = frozenset({"purchase", "complaint", "survey", "new_idea"})
METRIC_TRIGGERS = frozenset({"lapse", "anniversary"})
METRIC_COLUMNS = (CustomerMetric.orders, CustomerMetric.frequency, CustomerMetric.recency,
                  CustomerMetric.p_alive, CustomerMetric.first_purchase_at,
                  CustomerMetric.last_purchase_at)


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def window(rule: Rule, as_of: date, *, lead: int = 0) -> tuple[date, date]:
    """First and last occurrence dates whose action day (occurrence + delay + ``lead``)
    falls in the rule's window ending on ``as_of``."""
    last = as_of - timedelta(days=rule.delay_days + lead)
    return last - timedelta(days=rule.window_days - 1), last


def _read(session: Session, query: Any, expected: int = 0) -> pd.DataFrame:
    """Rows as pandas; ``expected`` (a row count) lets a large read use ADBC."""
    return bulk.select_to_arrow(session.connection(), query,
                                expected_rows=expected).to_pandas()


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).dt.date


def _text(values: Any) -> npt.NDArray[np.object_]:
    """Occurrences as text; ids (integers) are formatted in Arrow, not one by one."""
    array = np.asarray(values)
    if array.dtype.kind in "iu":
        text: npt.NDArray[np.object_] = pa.array(array).cast(pa.string()).to_numpy(
            zero_copy_only=False)
        return text
    formatted: npt.NDArray[np.object_] = pd.Series(values, dtype=object).astype(str).to_numpy()
    return formatted


def _as_dates(days: npt.NDArray[np.datetime64]) -> npt.NDArray[np.object_]:
    """Days (naive datetime64) as ``date`` objects, made by Arrow in C (pandas'
    ``.dt.date`` builds each through Python: a second at a million due)."""
    dates: npt.NDArray[np.object_] = pa.array(days.astype("datetime64[D]")).to_pandas(
        date_as_object=True).to_numpy()
    return dates


def _frame(customers: Any, occurrences: Any, days: Any) -> pd.DataFrame:
    frame = pd.DataFrame({"customer_id": np.asarray(customers, dtype="int64"),
                          "occurrence": _text(occurrences),
                          "occurred_on": list(days)})
    return frame[COLUMNS]


class Facts:
    """What a run's rules read more than once, each read once per run: the orders of
    the widest window of its purchase rules, and the latest metrics (lapse, anniversary).
    """

    def __init__(self, session: Session, as_of: date, rules: list[Rule],
                 source: AnalyticsSource | None = None) -> None:
        self.session, self.as_of, self.source = session, as_of, source
        spans = [window(rule, as_of) for rule in rules if rule.trigger == "purchase"]
        self._span = (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None
        self._purchases: pd.DataFrame | None = None
        self._metrics: pd.DataFrame | None = None
        self._latest: date | None = None
        self._needs_metrics = any(r.trigger in METRIC_TRIGGERS for r in rules)

    def purchases_query(self) -> Any | None:
        """The orders of the purchase rules' span (None: no purchase rule)."""
        if self._span is None:
            return None
        first, last = self._span
        t = Transaction
        return select(t.id, t.customer_id, t.ordered_at, t.amount).where(
            t.ordered_at >= _start(first), t.ordered_at < _start(last + timedelta(days=1)))

    def span_orders(self) -> pd.DataFrame | None:
        """The orders of the purchase rules' span from the analytics ``source`` (the
        snapshot a refresh just took; the store has no index on the order date, so
        its read scans every order); None without a source or a purchase rule."""
        if self.source is None or self._span is None:
            return None
        first, last = self._span
        tx = self.source.transactions
        return to_pandas(self.source, tx.filter(
            (tx.ordered_at >= _start(first)) & (tx.ordered_at < _start(last + timedelta(days=1)))
        ).select("id", "customer_id", "ordered_at", "amount"))

    def purchases(self) -> pd.DataFrame:
        """id, customer_id, day, amount of the orders in the purchase rules' span."""
        if self._purchases is None:
            query = self.purchases_query()
            if query is None:
                raise ValueError("no purchase rule in this run")
            self.set_purchases(_read(self.session, query))
        assert self._purchases is not None
        return self._purchases

    def set_purchases(self, rows: pd.DataFrame) -> None:
        """The orders, read by the caller with other large reads (one ADBC child)."""
        # the UTC day as a datetime64 (compared in C); dates are made only for the due
        rows["day"] = pd.to_datetime(rows["ordered_at"], utc=True).dt.tz_localize(None) \
            .dt.normalize() if len(rows) else pd.Series(dtype="datetime64[ns]")
        self._purchases = rows

    @property
    def needs_metrics(self) -> bool:
        return self._needs_metrics

    @property
    def has_metrics(self) -> bool:
        return self._metrics is not None

    def metrics_query(self) -> tuple[Any, int] | None:
        """The query of the latest stored metrics on or before the as-of (what the
        refresh computed) and its row count; None when none is stored.

        A block is written by one statement, so its ids are one range: read by id
        range (the table's own order), where the as-of index would fetch the rows in
        its key order, page by page at random; the rows of another date that fall in
        the range (none, unless blocks were written at once) are dropped on reading."""
        m = CustomerMetric
        latest = self.session.scalar(select(func.max(m.as_of)).where(m.as_of <= self.as_of))
        if latest is None:
            return None
        self._latest = latest
        first, last, expected = self.session.execute(select(
            func.min(m.id), func.max(m.id), func.count()).where(m.as_of == latest)).one()
        return select(m.customer_id, m.as_of, *METRIC_COLUMNS).where(
            m.id >= first, m.id <= last), int(expected or 0)

    def metrics(self) -> pd.DataFrame:
        if self._metrics is None:
            found = self.metrics_query()
            if found is None:
                self._metrics = pd.DataFrame(columns=["customer_id", *(
                    c.key for c in METRIC_COLUMNS)])
            else:
                self.set_metrics(_read(self.session, found[0], found[1]))
        assert self._metrics is not None
        return self._metrics

    def set_metrics(self, frame: pd.DataFrame) -> None:
        """Metrics read by the caller with other large reads (one ADBC child process),
        by :meth:`metrics_query`."""
        if "as_of" in frame.columns:
            same = pd.to_datetime(frame["as_of"]) == pd.Timestamp(self._latest)
            frame = frame[same.to_numpy()].drop(columns="as_of").reset_index(drop=True)
        self._metrics = frame


def metric_columns(block: pd.DataFrame) -> pd.DataFrame | None:
    """The columns the rules read of a metrics block in memory (the refresh's, as it
    stored them), as :meth:`Facts.set_metrics` takes them; None when it lacks one
    (the rules then read the stored metrics)."""
    names = ["customer_id", *(c.key for c in METRIC_COLUMNS)]
    return block[names] if set(names) <= set(block.columns) else None


def _by_id(session: Session, query: Any, when: str) -> pd.DataFrame:
    rows = _read(session, query)
    if rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    return _frame(rows["customer_id"], rows["id"], _dates(rows[when]))


def purchase(facts: Facts, rule: Rule, as_of: date) -> pd.DataFrame:
    first, last = window(rule, as_of)
    rows = facts.purchases()
    keep = ((rows["day"] >= pd.Timestamp(first)) & (rows["day"] <= pd.Timestamp(last))
            & (rows["amount"] > float(rule.params.get("min_amount", 0)))).to_numpy()
    return _frame(rows["customer_id"].to_numpy()[keep], rows["id"].to_numpy()[keep],
                  _as_dates(rows["day"].to_numpy()[keep]))


def stage_change(facts: Facts, rule: Rule, as_of: date) -> pd.DataFrame:
    first, last = window(rule, as_of)
    s = StageChange
    query = select(s.id, s.customer_id, s.as_of).where(
        s.model == rule.params["model"], s.as_of >= first, s.as_of <= last)
    direction = rule.params.get("direction", "any")
    query = query.where(s.direction.in_(["up", "down"] if direction == "any" else [direction]))
    if "to_stage" in rule.params:
        query = query.where(s.to_stage == rule.params["to_stage"])
    rows = _read(facts.session, query)
    if rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    return _frame(rows["customer_id"], rows["id"], pd.to_datetime(rows["as_of"]).dt.date)


def _interactions(facts: Facts, kind: str, rule: Rule, as_of: date,
                  *conditions: Any, lead: int = 0) -> pd.DataFrame:
    first, last = window(rule, as_of, lead=lead)
    i = Interaction
    query = select(i.id, i.customer_id, i.occurred_at).where(
        i.kind == kind, i.customer_id.is_not(None), i.occurred_at >= _start(first),
        i.occurred_at < _start(last + timedelta(days=1)), *conditions)
    return _by_id(facts.session, query, "occurred_at")


def complaint(facts: Facts, rule: Rule, as_of: date) -> pd.DataFrame:
    if rule.params.get("state", "opened") == "opened":
        return _interactions(facts, InteractionKind.COMPLAINT, rule, as_of)
    i = Interaction
    # still unresolved now, and the N days ran out inside the window
    unresolved = and_(i.resolved_at.is_(None), or_(i.status.is_(None), i.status.not_in(
        [TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value])))
    return _interactions(facts, InteractionKind.COMPLAINT, rule, as_of, unresolved,
                         lead=int(rule.params.get("days", 7)))


def survey(facts: Facts, rule: Rule, as_of: date) -> pd.DataFrame:
    i = Interaction
    conditions: list[Any] = [i.score.is_not(None)]
    if "scale" in rule.params:
        conditions.append(i.score_scale == rule.params["scale"])
    if "score_below" in rule.params:
        conditions.append(i.score < float(rule.params["score_below"]))
    else:
        conditions.append(i.score >= float(rule.params["score_at_least"]))
    return _interactions(facts, InteractionKind.SURVEY_RESPONSE, rule, as_of, *conditions)


def new_idea(facts: Facts, rule: Rule, as_of: date) -> pd.DataFrame:
    return _interactions(facts, InteractionKind.IDEA, rule, as_of)


def membership_ending(facts: Facts, rule: Rule, as_of: date) -> pd.DataFrame:
    # action day = ended - days_before + delay, in the window
    before = int(rule.params.get("days_before", 30))
    first, last = window(rule, as_of, lead=-before)
    m = Membership
    query = select(m.id, m.customer_id, m.ended_at).where(
        m.ended_at.is_not(None), m.ended_at >= _start(first),
        m.ended_at < _start(last + timedelta(days=1)))
    if "kind" in rule.params:
        query = query.where(m.kind == rule.params["kind"])
    return _by_id(facts.session, query, "ended_at")


def lapse(facts: Facts, rule: Rule, as_of: date) -> pd.DataFrame:
    """Silence beyond ``factor`` x the customer's own mean time between purchases
    (recency / repeat purchases, from the refresh's metrics), or P(alive) below a
    threshold. The episode starts at the last purchase: a new purchase ends it, and the
    next silence is a new occurrence."""
    rows = facts.metrics()
    rows = rows[rows["last_purchase_at"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    last_day = pd.to_datetime(rows["last_purchase_at"], utc=True).dt.tz_localize(None) \
        .dt.normalize()
    first, end = window(rule, as_of)
    if "p_alive_below" in rule.params:
        hit = rows["p_alive"].to_numpy(dtype=float, na_value=np.nan) < float(
            rule.params["p_alive_below"])
        # due the day it is seen; the episode (last purchase) keeps it from repeating
        keep = hit & (last_day <= pd.Timestamp(end)).to_numpy()
    else:
        frequency = rows["frequency"].to_numpy(dtype=float, na_value=np.nan)
        recency = rows["recency"].to_numpy(dtype=float, na_value=np.nan)
        orders = rows["orders"].to_numpy(dtype=float, na_value=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            expected_gap = np.where(frequency >= 1, recency / frequency, np.nan)
        threshold = np.ceil(float(rule.params["factor"]) * expected_gap)
        finite = np.isfinite(threshold)
        # in days, in numpy (pandas' to_timedelta goes through each value)
        due = last_day.to_numpy(dtype="datetime64[D]") + np.where(
            finite, threshold, 0).astype("int64").astype("timedelta64[D]")
        keep = (finite & (orders >= int(rule.params.get("min_orders", 2)))
                & (due >= np.datetime64(first)) & (due <= np.datetime64(end)))
    chosen = rows[keep]
    episodes = last_day[keep].to_numpy(dtype="datetime64[D]")
    days = pa.array(episodes).cast(pa.string())  # in C
    return _frame(chosen["customer_id"], pc.binary_join_element_wise(
        "lapse", days, ":").to_numpy(zero_copy_only=False), _as_dates(episodes))


def anniversary(facts: Facts, rule: Rule, as_of: date) -> pd.DataFrame:
    """A year or more since the first purchase; 29 February falls on the 28th."""
    rows = facts.metrics()
    rows = rows[rows["first_purchase_at"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    first_day = pd.to_datetime(rows["first_purchase_at"], utc=True).dt.tz_localize(None) \
        .to_numpy(dtype="datetime64[D]")
    start, end = window(rule, as_of)
    # the anniversary's month and day, in numpy (assembling dates in pandas goes
    # through each row): months since January, days since the first of the month
    month_start = first_day.astype("datetime64[M]")
    month = (month_start - first_day.astype("datetime64[Y]").astype("datetime64[M]")) \
        .astype("int64")
    day = (first_day - month_start.astype("datetime64[D]")).astype("int64")
    day = np.where((month == 1) & (day == 28), 27, day)
    first_year = first_day.astype("datetime64[Y]").astype("int64") + 1970
    customers = rows["customer_id"].to_numpy()
    parts = []
    for year in range(start.year, end.year + 1):
        dates = (np.datetime64(f"{year:04d}-01", "M") + month).astype("datetime64[D]") + day
        keep = ((dates >= np.datetime64(start)) & (dates <= np.datetime64(end))
                & (first_year < year))
        parts.append(_frame(customers[keep], [f"year:{year}"] * int(keep.sum()),
                            _as_dates(dates[keep])))
    return pd.concat(parts, ignore_index=True)


EVALUATORS: dict[str, Callable[[Facts, Rule, date], pd.DataFrame]] = {
    "purchase": purchase, "stage_change": stage_change, "lapse": lapse,
    "complaint": complaint, "survey": survey, "anniversary": anniversary,
    "membership_ending": membership_ending, "new_idea": new_idea,
}


def evaluate(facts: Facts, rule: Rule, as_of: date) -> pd.DataFrame:
    """The due occurrences of ``rule``'s trigger as of ``as_of`` (see module docs)."""
    frame = EVALUATORS[rule.trigger](facts, rule, as_of)
    return frame.drop_duplicates(["customer_id", "occurrence"])
