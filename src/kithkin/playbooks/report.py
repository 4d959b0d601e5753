"""What happened: per playbook, level and rule, what was done and what customers did next.

Done: firings (contacted, held out, skipped by reason), tasks created and done, messages
queued, sent, skipped (by the outbox's reason) and failed, read from the tasks and
messages whose ``reason`` names the playbook and rule.

Next: for every firing, whether the customer bought again within 30 and 90 days of it
and whether their first stage move (in the workspace's ``outcome_model``) within 90 days
was up or down, for contacted customers against the playbook's holdout (customers the
same trigger fired for, who were not contacted: the comparison is like for like). A
firing younger than the horizon is not counted (its outcome is not known yet), so each
rate says how many firings it rests on; with fewer than ``MIN_GROUP`` in either group
the difference is reported as too few to tell, not as zero.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kithkin.database import bulk
from kithkin.outbox.models import Message
from kithkin.playbooks.models import PlaybookFiring
from kithkin.relationships.models import StageChange
from kithkin.tasks.models import Task
from kithkin.transactions.models import Transaction

MIN_GROUP = 20
HORIZONS = {"bought_30d": 30, "bought_90d": 90, "moved_up_90d": 90, "moved_down_90d": 90}
KEY = ["playbook", "rule"]


def _read(session: Session, query: Any) -> pd.DataFrame:
    return bulk.select_to_arrow(session.connection(), query).to_pandas()


def _done(session: Session) -> pd.DataFrame:
    """Per playbook and rule: firings and what the tasks and messages became."""
    f = PlaybookFiring
    firings = pd.DataFrame(session.execute(select(
        f.playbook, f.level, f.rule, f.trigger, f.holdout, f.skip_reason, func.count()).group_by(
        f.playbook, f.level, f.rule, f.trigger, f.holdout, f.skip_reason)).all(),
        columns=["playbook", "level", "rule", "trigger", "holdout", "skip_reason", "n"])
    if firings.empty:
        return pd.DataFrame()
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in firings.itertuples(index=False):
        row = rows.setdefault((r.playbook, r.rule), {
            "playbook": r.playbook, "level": r.level, "rule": r.rule, "trigger": r.trigger,
            "firings": 0, "contacted": 0, "holdout": 0, "skipped": {}, "tasks": 0,
            "tasks_done": 0, "messages": 0, "messages_sent": 0, "messages_failed": 0})
        row["firings"] += int(r.n)
        if r.holdout:
            row["holdout"] += int(r.n)
        else:
            row["contacted"] += int(r.n)
            if r.skip_reason:
                row["skipped"][r.skip_reason] = row["skipped"].get(r.skip_reason, 0) + int(r.n)
    for reason, status, n in session.execute(select(Task.reason, Task.status, func.count())
                                             .where(Task.reason.like("playbook:%"))
                                             .group_by(Task.reason, Task.status)):
        found = rows.get(tuple(reason.split(":", 2)[1:]))  # type: ignore[arg-type]
        if found:
            found["tasks"] += n
            found["tasks_done"] += n if status == "done" else 0
    for reason, status, skip, n in session.execute(
            select(Message.reason, Message.status, Message.skip_reason, func.count())
            .where(Message.reason.like("playbook:%"))
            .group_by(Message.reason, Message.status, Message.skip_reason)):
        found = rows.get(tuple(reason.split(":", 2)[1:]))  # type: ignore[arg-type]
        if found:
            found["messages"] += n
            found["messages_sent"] += n if status == "sent" else 0
            found["messages_failed"] += n if status in ("failed", "dead") else 0
            if status == "skipped":
                key = f"message:{skip or 'unknown'}"
                found["skipped"][key] = found["skipped"].get(key, 0) + n
    return pd.DataFrame(list(rows.values()))


def _next_events(firings: pd.DataFrame, events: pd.DataFrame, name: str) -> pd.Series:
    """Days from each firing to the customer's first event after it (NaN: none)."""
    if events.empty or firings.empty:
        return pd.Series(np.nan, index=firings.index)
    left = firings[["customer_id", "fired"]].reset_index()
    left["fired"] = left["fired"].astype("datetime64[ns]")
    left = left.sort_values("fired")
    right = events.rename(columns={"day": name})
    right[name] = right[name].astype("datetime64[ns]")
    right = right.sort_values(name)
    right["at"] = right[name]
    joined = pd.merge_asof(left, right, left_on="fired", right_on="at", by="customer_id",
                           direction="forward", allow_exact_matches=False)
    days = (joined[name] - joined["fired"]).dt.days
    return pd.Series(days.to_numpy(), index=joined["index"].to_numpy()).reindex(firings.index)


def outcomes(*, session: Session, as_of: date, outcome_model: str) -> pd.DataFrame:
    """Per playbook, rule and group (contacted/holdout): known firings and the share
    that bought again within 30/90 days and moved up/down within 90 days."""
    f = PlaybookFiring
    firings = _read(session, select(f.playbook, f.rule, f.customer_id, f.fired_on,
                                    f.holdout).where(f.fired_on <= as_of - timedelta(days=30)))
    if firings.empty:
        return pd.DataFrame()
    firings["fired"] = pd.to_datetime(firings["fired_on"]).astype("datetime64[ns]")
    firings["customer_id"] = firings["customer_id"].astype("int64")
    since = firings["fired"].min().to_pydatetime().date()
    fired_customers = select(f.customer_id).distinct().scalar_subquery()
    t = Transaction
    purchases = _read(session, select(t.customer_id, t.ordered_at).where(
        t.amount > 0, t.customer_id.in_(fired_customers),
        t.ordered_at >= pd.Timestamp(since, tz="UTC").to_pydatetime()))
    purchases = pd.DataFrame({
        "customer_id": purchases["customer_id"].astype("int64"),
        "day": pd.to_datetime(purchases["ordered_at"], utc=True).dt.tz_localize(None)
        .dt.normalize()}).drop_duplicates()
    s = StageChange
    moves = _read(session, select(s.customer_id, s.as_of, s.direction).where(
        s.model == outcome_model, s.direction.in_(["up", "down"]),
        s.customer_id.in_(fired_customers), s.as_of > since))
    moves = pd.DataFrame({"customer_id": moves["customer_id"].astype("int64"),
                          "day": pd.to_datetime(moves["as_of"]).astype("datetime64[ns]"),
                          "direction": moves["direction"]})
    next_buy = _next_events(firings, purchases, "next_buy")
    first_move = _next_events(firings, moves[["customer_id", "day"]], "next_move")
    if not moves.empty:
        direction = moves.set_index(["customer_id", "day"])["direction"]
        direction = direction[~direction.index.duplicated(keep="last")]
        move_day = firings["fired"] + pd.to_timedelta(first_move, unit="D")
        pairs = pd.MultiIndex.from_arrays([firings["customer_id"], move_day])
        firings["move"] = direction.reindex(pairs).to_numpy()
    else:
        firings["move"] = None
    age = (pd.Timestamp(as_of) - firings["fired"]).dt.days
    rows = []
    for (playbook, rule, holdout), group in firings.groupby([*KEY, "holdout"]):
        row: dict[str, Any] = {"playbook": playbook, "rule": rule,
                               "group": "holdout" if holdout else "contacted"}
        for name, horizon in HORIZONS.items():
            known = age.loc[group.index] >= horizon
            if name.startswith("bought"):
                hit = next_buy.loc[group.index] <= horizon
            else:
                within = first_move.loc[group.index] <= horizon
                hit = within & (group["move"] == name.split("_")[1])
            row[f"{name}_n"] = int(known.sum())
            row[name] = int((hit & known).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def compare(contacted_hits: int, contacted_n: int, holdout_hits: int, holdout_n: int
            ) -> dict[str, Any]:
    """Rates, the difference in points and its 95 % interval (normal approximation),
    or a verdict that the groups are too small to tell."""
    result: dict[str, Any] = {
        "contacted_rate": contacted_hits / contacted_n if contacted_n else None,
        "holdout_rate": holdout_hits / holdout_n if holdout_n else None,
        "contacted_n": contacted_n, "holdout_n": holdout_n,
        "difference": None, "low": None, "high": None}
    if contacted_n < MIN_GROUP or holdout_n < MIN_GROUP:
        result["verdict"] = (f"too few to tell (needs {MIN_GROUP} known firings in each "
                             f"group; {contacted_n} contacted, {holdout_n} held out)")
        return result
    p1, p2 = contacted_hits / contacted_n, holdout_hits / holdout_n
    spread = 1.96 * math.sqrt(p1 * (1 - p1) / contacted_n + p2 * (1 - p2) / holdout_n)
    difference = p1 - p2
    result.update(difference=difference, low=difference - spread, high=difference + spread)
    if difference - spread > 0:
        result["verdict"] = "contacted customers did better"
    elif difference + spread < 0:
        result["verdict"] = "contacted customers did worse"
    else:
        result["verdict"] = "no difference shown"
    return result


def what_happened(*, session: Session, as_of: date, outcome_model: str
                  ) -> list[dict[str, Any]]:
    """One row per playbook rule: what was done and the holdout comparison."""
    done = _done(session)
    if done.empty:
        return []
    next_ = outcomes(session=session, as_of=as_of, outcome_model=outcome_model)
    result = []
    for row in done.to_dict("records"):
        comparison: dict[str, Any] = {}
        for name in HORIZONS:
            counts = {"contacted": (0, 0), "holdout": (0, 0)}
            if not next_.empty:
                mine = next_[(next_["playbook"] == row["playbook"])
                             & (next_["rule"] == row["rule"])]
                for group in mine.itertuples(index=False):
                    counts[group.group] = (int(getattr(group, name)),
                                           int(getattr(group, f"{name}_n")))
            comparison[name] = compare(*counts["contacted"], *counts["holdout"])
        result.append({**row, "comparison": comparison})
    return result
