"""Running the playbooks: who is due what, recording it once, taking the actions.

:func:`plan` evaluates every active playbook's rules for the customers its level serves
(set-based, :mod:`kithkin.playbooks.triggers`), and splits the due occurrences into those
already acted on and the new ones, holdout marked (:mod:`kithkin.playbooks.keys`).
:func:`apply` records the new firings and takes their actions (:mod:`.actions`) in the
caller's transaction; :func:`run` does both in one transaction under the store's write
lock (SQLite has one writer: overlapping runs are serialised, and the later one finds
the earlier one's firings; on PostgreSQL the unique dedupe keys make the later insert a
no-op), and keeps a ``playbook_run`` record. A dry run is :func:`plan` alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import Session

from kithkin.analytics.engine import AnalyticsSource
from kithkin.config import Settings
from kithkin.database import bulk
from kithkin.database.core import session_scope
from kithkin.database.writelock import with_lock_retries
from kithkin.errors import ValidationError
from kithkin.playbooks import actions, audience, keys, triggers
from kithkin.playbooks.audience import customer_levels
from kithkin.playbooks.definitions import TRIGGERS, Playbook, Rule
from kithkin.playbooks.models import PlaybookFiring, PlaybookRun
from kithkin.playbooks.schemas import RuleRun, RunReport
from kithkin.playbooks.workspace import PlaybookConfig, active_playbooks, load_config

FIRINGS = bulk.table_of(PlaybookFiring)
ADBC_FROM = 250_000


@dataclass
class RulePlan:
    book: Playbook
    rule: Rule
    due: int
    new: pd.DataFrame  # customer_id, occurrence, occurred_on, dedupe_key, level, holdout

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
         only: set[str] | None = None, source: AnalyticsSource | None = None
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
            found = found[found["customer_id"].isin(level_of.index)].reset_index(drop=True)
            found["level"] = found["customer_id"].map(level_of).to_numpy()
            found["holdout"] = keys.in_holdout(found["customer_id"].to_numpy(), book.name,
                                               share)
            due.append((book, rule, found))
    plans = []
    for (book, rule, frame), recorded in zip(due, _recorded(session, due), strict=True):
        new = frame[~recorded].reset_index(drop=True)
        new["dedupe_key"] = keys.firing_keys(book.name, rule.name, new["customer_id"],
                                             new["occurrence"])
        plans.append(RulePlan(book=book, rule=rule, due=len(frame), new=new))
    return plans, by_level


def _recorded(session: Session, due: list[tuple[Playbook, Rule, pd.DataFrame]]
              ) -> list[npt.NDArray[np.bool_]]:
    """Which of each rule's due occurrences are recorded firings already.

    A firing's dedupe key is its (playbook, rule, customer, occurrence) (names hold no
    colon), so the recorded ones are read by the (playbook, rule, occurred_on) index,
    from the rule's earliest due day on (every rule in one read: on a SQLite file a
    large one goes through one ADBC child process), and matched in Arrow: no key is
    built or staged for the store to join, and a first run reads nothing. Recording
    stays ON CONFLICT DO NOTHING on the key, so an occurrence this misses (one whose
    day moved) or that a concurrent run records first is still recorded once."""
    f = FIRINGS.c
    queries, expected = {}, {}
    for n, (book, rule, found) in enumerate(due):
        if found.empty:
            continue
        where = (f.playbook == book.name, f.rule == rule.name,
                 f.occurred_on >= min(found["occurred_on"]))
        count = session.scalar(select(func.count()).select_from(FIRINGS).where(*where)) or 0
        if count:
            queries[str(n)] = select(f.customer_id, f.occurrence).where(*where)
            expected[str(n)] = count
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
    return masks


def _large_reads(session: Session, config: PlaybookConfig,
                 facts: triggers.Facts) -> pd.DataFrame:
    """The customers' segments and (when a rule needs them) the latest metrics and the
    orders of the purchase rules' span, read together: on a SQLite file a large read
    goes through one ADBC child process, whose start costs about as much as reading a
    million rows, so it is paid once."""
    queries = {"segments": audience.segment_query(session, config.segment_kind)}
    customers = session.scalar(select(func.count()).select_from(
        queries["segments"].subquery())) or 0
    expected = {"segments": customers}
    metrics = facts.metrics_query() if facts.needs_metrics else None
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
    """The new firings as ``playbook_firing`` rows (held-out ones say so), in dedupe
    key order: the unique index then grows at its end, and the actions' keys (the
    firing's key and a suffix), read back in firing order, too."""
    parts = [pd.DataFrame({
        "run_id": run_id, "playbook": item.book.name, "level": item.new["level"].astype(str),
        "rule": item.rule.name, "trigger": item.rule.trigger,
        "customer_id": item.new["customer_id"].astype("int64"),
        "occurrence": item.new["occurrence"].astype(str),
        "occurred_on": item.new["occurred_on"], "fired_on": as_of,
        "holdout": item.new["holdout"].astype(bool),
        "skip_reason": item.new["holdout"].map({True: "holdout", False: None}),
        "dedupe_key": item.new["dedupe_key"]}) for item in plans if len(item.new)]
    if not parts:
        return pa.table({})
    return bulk.conform(FIRINGS, pd.concat(parts, ignore_index=True)).sort_by("dedupe_key")


def _recorded_counts(session: Session, run_id: int) -> dict[tuple[str, str], tuple[int, int]]:
    """(playbook, rule) -> (firings, of which held out) this run recorded."""
    f = FIRINGS.c
    held = func.sum(case((f.holdout.is_(True), 1), else_=0))
    query = select(f.playbook, f.rule, func.count(), held).where(
        f.run_id == run_id).group_by(f.playbook, f.rule)
    return {(str(row[0]), str(row[1])): (int(row[2]), int(row[3] or 0))
            for row in session.execute(query)}


def apply(*, session: Session, plans: list[RulePlan], as_of: date, run_id: int,
          timings: dict[str, Any] | None = None) -> list[RuleRun]:
    """Record the new firings (ON CONFLICT DO NOTHING on their dedupe keys: a firing a
    concurrent run recorded first stays its) and take the actions of the contacted
    ones this run recorded. ``timings`` gets the seconds spent recording."""
    clock = time.perf_counter()
    rows = firing_rows(plans, as_of=as_of, run_id=run_id)
    inserted = bulk.insert_new(session.connection(), FIRINGS, rows, key=["dedupe_key"]) \
        if rows.num_rows else 0
    # a concurrent run (PostgreSQL) recorded some first: count what this one recorded
    counts = None if inserted == rows.num_rows else _recorded_counts(session, run_id)
    if timings is not None:
        timings["record"] = round(time.perf_counter() - clock, 4)
    lines = []
    for item in plans:
        line = item.line() if counts is None else item.line(
            *counts.get((item.book.name, item.rule.name), (0, 0)))
        line.tasks = line.messages = 0
        if line.new > line.holdout:
            outcome = actions.take(session, actions.Firings(
                book=item.book, rule=item.rule, run_id=run_id,
                count=line.new - line.holdout), as_of)
            line.tasks, line.messages = outcome.tasks, outcome.messages
            line.skipped, line.failed = outcome.skipped, outcome.failed
        lines.append(line)
    return lines


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
        only: set[str] | None = None, source: AnalyticsSource | None = None) -> RunReport:
    """Evaluate and act, in one transaction under the write lock (see module docs).
    ``source``: the analytics engine of a refresh that just ran, whose snapshot the
    purchase rules read their orders from."""

    def once() -> RunReport:
        started = time.perf_counter()
        timings: dict[str, Any] = {}
        with session_scope(engine) as session:
            # read before the first write: large reads of a SQLite file then go through
            # ADBC (kithkin.database.bulk.select_to_arrow)
            plans, by_level = plan(session=session, settings=settings, as_of=as_of,
                                   only=only, source=source)
            timings["evaluate"] = round(time.perf_counter() - started, 4)
            record = PlaybookRun(as_of=as_of, mode=mode)
            session.add(record)
            session.flush()
            clock = time.perf_counter()
            lines = apply(session=session, plans=plans, as_of=as_of, run_id=record.id,
                          timings=timings)
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
