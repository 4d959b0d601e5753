"""Running the playbooks: who is due what, recording it once, taking the actions.

:func:`plan` evaluates every active playbook's rules for the customers its level serves
(set-based, :mod:`kithkin.playbooks.triggers`), and splits the due occurrences into those
already acted on and the new ones, holdout marked (:mod:`kithkin.playbooks.keys`).
:func:`apply` records the new firings and takes their actions (:mod:`.actions`) in the
caller's transaction; :func:`run` does both in one transaction under the store's write
lock (SQLite has one writer: overlapping runs are serialised, and the later one finds
the earlier one's firings; on PostgreSQL the firings' unique key makes the later insert
a no-op), and keeps a ``playbook_run`` record. A dry run is :func:`plan` alone.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import Session

from kithkin.analytics.engine import AnalyticsSource
from kithkin.config import Settings
from kithkin.customers.models import Consent, Customer
from kithkin.database import bulk
from kithkin.database.core import session_scope
from kithkin.database.writelock import with_lock_retries
from kithkin.errors import ValidationError
from kithkin.outbox import consent_check
from kithkin.playbooks import actions, audience, keys, triggers
from kithkin.playbooks.audience import customer_levels
from kithkin.playbooks.definitions import TRIGGERS, Playbook, Rule
from kithkin.playbooks.models import KEY, PlaybookFiring, PlaybookRun
from kithkin.playbooks.schemas import RuleRun, RunReport
from kithkin.playbooks.workspace import PlaybookConfig, active_playbooks, load_config

FIRINGS = bulk.table_of(PlaybookFiring)
ADBC_FROM = 250_000
DECIDE_SHARE = 2  # decide_messages when the firings are at least 1/this of the customers


@dataclass
class RulePlan:
    book: Playbook
    rule: Rule
    due: int
    new: pd.DataFrame  # customer_id, occurrence, occurred_on, level, holdout[, held]
    # the contacted firings whose first message the outbox refuses, by reason (decided
    # by decide_messages; None: not decided)
    held: Counter[str] | None = None

    def line(self, new: int | None = None, holdout: int | None = None) -> RuleRun:
        """The rule's report line (``new``, ``holdout``: as recorded, when a concurrent
        run recorded some of the planned firings first)."""
        new = len(self.new) if new is None else new
        held = int(self.new["holdout"].sum()) if holdout is None else holdout
        contacted = new - held
        kinds = [a.action for a in self.rule.actions]
        return RuleRun(playbook=self.book.name, level=self.book.level, rule=self.rule.name,
                       trigger=self.rule.trigger, due=self.due, already=self.due - new,
                       new=new, holdout=held, tasks=contacted * kinds.count("task"),
                       messages=contacted * kinds.count("message"))


def holdout_share(book: Playbook, config: PlaybookConfig) -> float:
    return config.holdout_share if book.holdout_share is None else book.holdout_share


def served(config: PlaybookConfig, active: dict[str, Playbook]
           ) -> dict[str, tuple[Playbook, list[str]]]:
    """Playbook name -> (playbook, the levels it serves)."""
    books: dict[str, tuple[Playbook, list[str]]] = {}
    for level, book in active.items():
        books.setdefault(book.name, (book, []))[1].append(level)
    return books


def plan(*, session: Session, settings: Settings, as_of: date,
         only: set[str] | None = None, source: AnalyticsSource | None = None,
         metrics: pd.DataFrame | None = None
         ) -> tuple[list[RulePlan], dict[str, int]]:
    """Every active rule's new firings as of ``as_of`` (nothing is written).

    ``only`` limits the run to some triggers (events: the event-fed ones). Returns the
    plans and the number of customers per level."""
    unknown = sorted((only or set()) - set(TRIGGERS))
    if unknown:
        raise ValidationError(f"unknown trigger(s) {unknown}; one of {sorted(TRIGGERS)}")
    config = load_config(home=settings.home)
    active = active_playbooks(home=settings.home, config=config)
    books = served(config, active)
    facts = triggers.Facts(session, as_of, [
        rule for book, _ in books.values() for rule in book.rules
        if only is None or rule.trigger in only], source=source)
    given = triggers.metric_columns(metrics) if metrics is not None else None
    if given is not None and facts.needs_metrics:
        facts.set_metrics(given)
    levels = customer_levels(session=session, segment_kind=config.segment_kind,
                             segments=_large_reads(session, config, facts))
    by_level = {str(k): int(v) for k, v in levels["level"].value_counts().items()}
    due: list[tuple[Playbook, Rule, pd.DataFrame]] = []
    for book, served_levels in books.values():
        members = levels[levels["level"].isin(served_levels)]
        if members.empty:
            continue
        level_of = members.set_index("customer_id")["level"]
        share = holdout_share(book, config)
        for rule in book.rules:
            if only is not None and rule.trigger not in only:
                continue
            found = triggers.evaluate(facts, rule, as_of)
            # the members' index is hashed once per playbook, not once per rule
            at = level_of.index.get_indexer(found["customer_id"].to_numpy(dtype="int64"))
            found = found[at >= 0].reset_index(drop=True)
            found["level"] = level_of.to_numpy()[at[at >= 0]]
            found["holdout"] = keys.in_holdout(found["customer_id"].to_numpy(), book.name,
                                               share)
            due.append((book, rule, found))
    plans = []
    masks, moved = _recorded(session, due)
    for n, ((book, rule, frame), recorded) in enumerate(zip(due, masks, strict=True)):
        new = frame[~recorded].reset_index(drop=True)
        if n in moved and len(new):  # recorded with a day before the window?
            wanted = new[["customer_id", "occurrence"]].assign(playbook=book.name,
                                                               rule=rule.name)
            fresh = bulk.unstored(session.connection(), FIRINGS, wanted, key=KEY)
            new = new.iloc[fresh].reset_index(drop=True)
        plans.append(RulePlan(book=book, rule=rule, due=len(frame), new=new))
    return plans, by_level


def _recorded(session: Session, due: list[tuple[Playbook, Rule, pd.DataFrame]]
              ) -> tuple[list[npt.NDArray[np.bool_]], set[int]]:
    """Which of each rule's due occurrences are recorded firings already, and the rules
    (by position) that also have firings recorded with a day before their earliest due
    one.

    A firing's unique key is its (customer, playbook, rule, occurrence), so the
    recorded ones are read by the (playbook, rule, occurred_on) index,
    from the rule's earliest due day on (every rule in one read: on a SQLite file a
    large one goes through one ADBC child process), and matched in Arrow: no key is
    built or staged for the store to join, and a first run reads nothing. An
    occurrence whose day moved (an order's date corrected) may have been recorded with
    an earlier day: where such firings exist the caller looks the keys still unmatched
    up (few: those due since the last run). Recording stays ON CONFLICT DO NOTHING on
    the unique key, so an occurrence that a concurrent run records first is still recorded
    once."""
    f = FIRINGS.c
    queries, expected, moved = {}, {}, set()
    for n, (book, rule, found) in enumerate(due):
        if found.empty:
            continue
        first = min(found["occurred_on"])
        where = (f.playbook == book.name, f.rule == rule.name, f.occurred_on >= first)
        count = session.scalar(select(func.count()).select_from(FIRINGS).where(*where)) or 0
        if count:
            queries[str(n)] = select(f.customer_id, f.occurrence).where(*where)
            expected[str(n)] = count
        if session.scalar(select(f.id).where(
                f.playbook == book.name, f.rule == rule.name, f.occurred_on < first).limit(1)):
            moved.add(n)
    if sum(expected.values()) < ADBC_FROM:  # the plain read is faster (_large_reads)
        expected = {}
    stored = bulk.selects_to_arrow(session.connection(), queries, expected_rows=expected) \
        if queries else {}
    masks = []
    for n, (_, _, found) in enumerate(due):
        recorded = np.zeros(len(found), dtype=bool)
        masks.append(recorded)
        if str(n) not in stored:
            continue
        keys_due = pa.table({
            "customer_id": pa.array(found["customer_id"].to_numpy(dtype="int64")),
            "occurrence": pa.array(found["occurrence"].to_numpy(dtype=object), pa.string()),
            "position": pa.array(np.arange(len(found), dtype=np.int64))})
        matched = keys_due.join(stored[str(n)].cast(pa.schema([
            ("customer_id", pa.int64()), ("occurrence", pa.string())])),
            keys=["customer_id", "occurrence"], join_type="left semi")
        recorded[matched.column("position").to_numpy()] = True
    return masks, moved


def decide_messages(session: Session, plans: list[RulePlan]) -> None:
    """Decide, before anything is written, which new contacted firings' first message
    the outbox's queue-time checks refuse (:func:`actions.first_message`), so the
    firings are recorded with their reason (column ``held`` of each plan's frame)
    instead of updated after: one read per channel and purpose of the customers refused
    (the outbox's own expression; on a SQLite file a large read goes through ADBC,
    which only sees committed data, hence before the first write). The action checks
    the firings recorded without a reason again (:func:`actions._messages`)."""
    wanted: dict[tuple[str, str], list[RulePlan]] = {}
    for item in plans:
        at = actions.first_message(item.rule)
        if at is None or item.new.empty:
            continue
        params = item.rule.actions[at].params
        wanted.setdefault((params.get("channel", "email"),
                           params.get("purpose", "marketing")), []).append(item)
    customers = session.scalar(select(func.max(Customer.id))) or 0
    # the read costs about a pass over every customer: worth it when the firings are a
    # large share of them (else the action's UPDATE of the few is cheaper)
    wanted = {pair: items for pair, items in wanted.items()
              if sum(len(i.new) for i in items) * DECIDE_SHARE >= customers}
    if not wanted:
        return
    queries: dict[str, Any] = {}
    for channel, purpose in wanted:
        reason = consent_check.consent_reason(channel, purpose, address=True)
        queries[f"{channel}:{purpose}"] = select(
            Customer.id.label("customer_id"), reason.label("reason")).select_from(
            Customer).outerjoin(Consent, consent_check.consent_of(channel, purpose)).where(
            reason.is_not(None))
    expected = {name: customers if customers >= ADBC_FROM else 0 for name in queries}
    tables = bulk.selects_to_arrow(session.connection(), queries, expected_rows=expected)
    for (channel, purpose), items in wanted.items():
        refused = tables[f"{channel}:{purpose}"]
        known = pd.Index(refused.column("customer_id").to_numpy())
        texts = pc.binary_join_element_wise(actions.HELD, refused.column("reason"), "")
        reasons = np.asarray(texts.to_numpy(zero_copy_only=False), dtype=object)
        for item in items:
            at = known.get_indexer(item.new["customer_id"].to_numpy(dtype="int64"))
            refuse = (at >= 0) & ~item.new["holdout"].to_numpy(dtype=bool)
            held = np.full(len(item.new), None, dtype=object)
            held[refuse] = reasons[at[refuse]]
            item.new["held"] = held
            item.held = Counter({str(k)[len(actions.HELD):]: int(n) for k, n in
                                 pd.Series(held[refuse]).value_counts().items()})


def _large_reads(session: Session, config: PlaybookConfig,
                 facts: triggers.Facts) -> pd.DataFrame:
    """The customers' segments and (when a rule needs them) the latest metrics and the
    orders of the purchase rules' span, read together: on a SQLite file a large read
    goes through one ADBC child process, whose start costs about as much as reading a
    million rows, so it is paid once."""
    queries = {"segments": audience.segment_query(session, config.segment_kind)}
    # at most one segment per customer; the largest id bounds them without a count
    # (only the read's path depends on it)
    customers = session.scalar(select(func.max(Customer.id))) or 0
    expected = {"segments": customers}
    metrics = facts.metrics_query() if facts.needs_metrics and not facts.has_metrics \
        else None
    if metrics is not None:
        queries["metrics"], expected["metrics"] = metrics
    orders = facts.span_orders()
    if orders is not None:
        facts.set_purchases(orders)
    purchases = None if orders is not None else facts.purchases_query()
    if purchases is not None:
        # not counted (a scan of the orders): a store of many customers has many orders
        queries["purchases"], expected["purchases"] = purchases, customers
    # below ADBC_FROM rows the plain read is faster than starting the child process
    expected = {name: n if n >= ADBC_FROM else 0 for name, n in expected.items()}
    tables = bulk.selects_to_arrow(session.connection(), queries, expected_rows=expected)
    if metrics is not None:
        facts.set_metrics(tables["metrics"].to_pandas())
    if purchases is not None:
        facts.set_purchases(tables["purchases"].to_pandas())
    return tables["segments"].to_pandas()


def firing_rows(plans: list[RulePlan], *, as_of: date, run_id: int | None) -> pa.Table:
    """The new firings as ``playbook_firing`` rows (held-out ones say so), rule after
    rule, each rule's in (customer, occurrence) order: a rule's firings get one range
    of ids (its actions read them by it), and each rule's pass over the unique index
    (customer first) goes through it in order, not at random places."""
    parts = []
    for item in sorted((p for p in plans if len(p.new)),
                       key=lambda p: keys.firing_prefix(p.book.name, p.rule.name)):
        new = item.new
        held = pa.array(new["holdout"].to_numpy(dtype=bool))
        part = pa.table({
            "level": pa.array(new["level"].to_numpy(dtype=object), pa.string()),
            "customer_id": pa.array(new["customer_id"].to_numpy(dtype="int64")),
            "occurrence": pa.array(new["occurrence"].to_numpy(dtype=object), pa.string()),
            "occurred_on": pa.array(new["occurred_on"].to_numpy(dtype=object), pa.date32()),
            "holdout": held,
            "skip_reason": pc.if_else(held, "holdout", pa.array(
                new["held"].to_numpy(dtype=object), pa.string()) if "held" in new
                else pa.scalar(None, pa.string()))})
        order = pc.sort_indices(part, sort_keys=[("customer_id", "ascending"),
                                                 ("occurrence", "ascending")])
        parts.append(bulk.conform(FIRINGS, part.take(order), constants={
            "run_id": run_id, "playbook": item.book.name, "rule": item.rule.name,
            "trigger": item.rule.trigger, "fired_on": as_of}))
    return pa.concat_tables(parts) if parts else pa.table({})


@dataclass
class Recorded:
    """One rule's firings a run recorded: how many, held out, the first and last id."""

    firings: int
    holdout: int
    ids: tuple[int, int]


def _recorded_by_rule(session: Session, run_id: int, after: int
                      ) -> dict[tuple[str, str], Recorded]:
    """(playbook, rule) -> what this run recorded (a concurrent run on PostgreSQL may
    have recorded some of the planned firings first): its firings have ids past
    ``after`` (the largest before it recorded), read by the primary key."""
    f = FIRINGS.c
    held = func.sum(case((f.holdout.is_(True), 1), else_=0))
    query = select(f.playbook, f.rule, func.count(), held, func.min(f.id),
                   func.max(f.id)).where(f.id > after, f.run_id == run_id).group_by(
        f.playbook, f.rule)
    return {(str(row[0]), str(row[1])): Recorded(int(row[2]), int(row[3] or 0),
                                                 (int(row[4]), int(row[5])))
            for row in session.execute(query)}


def apply(*, session: Session, settings: Settings, plans: list[RulePlan], as_of: date,
          run_id: int, timings: dict[str, Any] | None = None) -> list[RuleRun]:
    """Record the new firings (ON CONFLICT DO NOTHING on their unique key: a firing a
    concurrent run recorded first stays its) and take the actions of the contacted
    ones this run recorded. ``timings`` gets the seconds spent recording."""
    # many rows land in indexed tables (firings, tasks, messages): a larger page cache
    with bulk.import_settings(session.connection()):
        return _apply(session=session, settings=settings, plans=plans, as_of=as_of,
                      run_id=run_id, timings=timings)


def _apply(*, session: Session, settings: Settings, plans: list[RulePlan], as_of: date,
           run_id: int, timings: dict[str, Any] | None) -> list[RuleRun]:
    clock = time.perf_counter()
    rows = firing_rows(plans, as_of=as_of, run_id=run_id)
    recorded = {}
    if rows.num_rows:
        after = session.scalar(select(func.max(FIRINGS.c.id))) or 0
        bulk.insert_new(session.connection(), FIRINGS, rows, key=KEY)
        recorded = _recorded_by_rule(session, run_id, after)
    if timings is not None:
        timings["record"] = round(time.perf_counter() - clock, 4)
    lines = []
    for item in plans:
        mine = recorded.get((item.book.name, item.rule.name), Recorded(0, 0, (0, 0)))
        line = item.line(mine.firings, mine.holdout)
        line.tasks = line.messages = 0
        if line.new > line.holdout:
            held = item.held
            if held is not None and mine.firings != len(item.new):
                held = _held_recorded(session, run_id, mine.ids)  # a concurrent run's
            outcome = actions.take(session, actions.Firings(
                book=item.book, rule=item.rule, run_id=run_id,
                count=line.new - line.holdout, ids=mine.ids, held=held), as_of, settings)
            line.tasks, line.messages = outcome.tasks, outcome.messages
            line.skipped, line.failed = outcome.skipped, outcome.failed
        lines.append(line)
    return lines


def _held_recorded(session: Session, run_id: int, ids: tuple[int, int]) -> Counter[str]:
    """A rule's firings of this run recorded with their message held back, by reason
    (when a concurrent run recorded some of the planned ones first)."""
    f = FIRINGS.c
    rows = session.execute(select(f.skip_reason, func.count()).where(
        f.run_id == run_id, f.id.between(*ids), f.skip_reason.like(f"{actions.HELD}%"))
        .group_by(f.skip_reason)).all()
    return Counter({str(r[0])[len(actions.HELD):]: int(r[1]) for r in rows})


def dry_run(*, session: Session, settings: Settings, as_of: date,
            only: set[str] | None = None) -> RunReport:
    """What a run would record and create now, writing nothing."""
    started = time.perf_counter()
    plans, by_level = plan(session=session, settings=settings, as_of=as_of, only=only)
    lines = []
    for item in plans:
        line = item.line()
        line.examples = [
            {"customer_id": int(r.customer_id), "occurrence": r.occurrence,
             "occurred_on": r.occurred_on.isoformat(), "holdout": bool(r.holdout)}
            for r in item.new.head(5).itertuples(index=False)]
        lines.append(line)
    return RunReport(run_id=None, as_of=as_of, mode="dry-run", dry_run=True,
                     seconds=round(time.perf_counter() - started, 4),
                     customers_by_level=by_level, rules=lines)


def run(*, engine: Engine, settings: Settings, as_of: date, mode: str = "manual",
        only: set[str] | None = None, source: AnalyticsSource | None = None,
        metrics: pd.DataFrame | None = None) -> RunReport:
    """Evaluate and act, in one transaction under the write lock (see module docs).
    ``source``: the analytics engine of a refresh that just ran, whose snapshot the
    purchase rules read their orders from; ``metrics``: the block of metrics that
    refresh just stored (the lapse and anniversary rules read it instead of reading
    a million rows back from the store)."""

    def once() -> RunReport:
        started = time.perf_counter()
        timings: dict[str, Any] = {}
        with session_scope(engine) as session:
            # read before the first write: large reads of a SQLite file then go through
            # ADBC (kithkin.database.bulk.select_to_arrow)
            plans, by_level = plan(session=session, settings=settings, as_of=as_of,
                                   only=only, source=source, metrics=metrics)
            decide_messages(session, plans)
            timings["evaluate"] = round(time.perf_counter() - started, 4)
            record = PlaybookRun(as_of=as_of, mode=mode)
            session.add(record)
            session.flush()
            clock = time.perf_counter()
            lines = apply(session=session, settings=settings, plans=plans, as_of=as_of,
                          run_id=record.id, timings=timings)
            timings["act"] = round(time.perf_counter() - clock - timings["record"], 4)
            seconds = round(time.perf_counter() - started, 4)
            _finish(record, lines, seconds, timings)
            return RunReport(run_id=record.id, as_of=as_of, mode=mode, dry_run=False,
                             seconds=seconds, timings=timings, customers_by_level=by_level,
                             rules=lines)

    return with_lock_retries(engine, once)


def _finish(record: PlaybookRun, lines: list[RuleRun], seconds: float,
            timings: dict[str, Any]) -> None:
    record.candidates = sum(line.due for line in lines)
    record.fired = sum(line.new for line in lines)
    record.holdout = sum(line.holdout for line in lines)
    record.tasks = sum(line.tasks for line in lines)
    record.messages = sum(line.messages for line in lines)
    record.skipped = sum(sum(line.skipped.values()) for line in lines)
    record.failed = sum(line.failed for line in lines)
    record.seconds, record.timings = seconds, timings
    record.summary = {f"{line.playbook}:{line.rule}": line.model_dump(
        include={"due", "new", "holdout", "tasks", "messages", "skipped"}) for line in lines}
    record.finished_at = datetime.now(UTC)


def record_failure(*, engine: Engine, as_of: date, mode: str, error: str) -> None:
    """Keep a failed run's reason (its own transaction was rolled back)."""
    with session_scope(engine) as session:
        session.add(PlaybookRun(as_of=as_of, mode=mode, error=error[:4000],
                                finished_at=datetime.now(UTC)))


def recent_runs(*, session: Session, limit: int = 20) -> list[PlaybookRun]:
    return list(session.scalars(select(PlaybookRun).order_by(
        PlaybookRun.id.desc()).limit(limit)))
