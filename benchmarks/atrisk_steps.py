"""The time the "who is leaving" steps add to `kithkin refresh`, at 1M customers.

The full refresh benchmark (benchmarks/refresh.py) builds a 1M-customer SQLite store and
times every step; on a shared 2-core machine that is many minutes, so this script times
the new work alone, on the same engine (DuckDB over a Parquet snapshot) the refresh uses:
the Pareto/NBD purchase log of benchmarks/clv_vs_lifetimes.py (1M customers, about 10M
orders, two years) plus memberships (20 % of customers, half of them ended) and
complaints/surveys (about 0.6M interactions), so the signal queries scan real rows.

Timed (seconds), against what the refresh did before for the same purpose:

- before: BG/NBD fit on everything (models step) + the calibration split query and a
  BG/NBD fit on it (holdout step);
- now: the calibration split query, the three candidates fitted and judged on it, the
  three fitted on everything, the signals as of both dates, the at-risk score (train +
  score), the defection rules with evidence, and the stage changes written to a SQLite
  store through the landing port (the refresh's own writer).

Usage: .venv/bin/python benchmarks/atrisk_steps.py [--customers 1000000]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))
sys.path.insert(0, str(ROOT))

import clv_vs_lifetimes as clv_bench  # noqa: E402

from kithkin.analytics import engine as analytics_engine  # noqa: E402
from kithkin.analytics import refresh as analytics_refresh  # noqa: E402
from kithkin.analytics import snapshot  # noqa: E402
from kithkin.atrisk import pipeline, rules  # noqa: E402
from kithkin.atrisk.models import DefectionChange  # noqa: E402
from kithkin.clv import BetaGeo  # noqa: E402
from kithkin.database import bulk  # noqa: E402

HOLDOUT_DAYS = 90


def add_signal_tables(directory: Path, customers: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    epoch = np.datetime64(clv_bench.EPOCH, "s")

    def stamp(days: np.ndarray) -> pa.Array:
        return pa.array((epoch + (days * 86_400).astype("timedelta64[s]"))
                        .astype("datetime64[us]")).cast(snapshot.UTC_TIMESTAMP)

    members = np.flatnonzero(rng.random(customers) < 0.2)
    start = rng.uniform(0, 400, members.size)
    end = start + rng.uniform(30, 700, members.size)
    ended = (rng.random(members.size) < 0.5) & (end < clv_bench.OBSERVATION_DAYS)
    kinds = np.array(["loyalty", "subscription", "contract"])[rng.integers(0, 3, members.size)]
    tables = {"memberships": {
        "id": pa.array(np.arange(1, members.size + 1)), "customer_id": pa.array(members),
        "kind": pa.array(kinds), "tier": pa.nulls(members.size, pa.string()),
        "started_at": stamp(start),
        "ended_at": pa.array(stamp(end), mask=~ended)}}
    who = rng.integers(0, customers, int(customers * 0.6))
    kind = np.where(rng.random(who.size) < 0.5, "complaint", "survey_response")
    score = np.where(kind == "complaint", np.nan, rng.integers(0, 11, who.size))
    n = who.size
    tables["interactions"] = {
        "id": pa.array(np.arange(1, n + 1)), "customer_id": pa.array(who),
        "occurred_at": stamp(rng.uniform(0, clv_bench.OBSERVATION_DAYS, n)),
        "direction": pa.array(["inbound"] * n), "kind": pa.array(kind),
        "score": pa.array(score, mask=np.isnan(score)),
        "score_scale": pa.array(np.where(kind == "complaint", None, "nps")),
        "status": pa.nulls(n, pa.string()), "resolved_at": pa.nulls(n, snapshot.UTC_TIMESTAMP),
        "tags": pa.nulls(n, pa.string())}
    for spec in snapshot.SPECS:
        if spec.name in tables:
            columns = tables[spec.name]
            table = pa.table({name: columns[name].cast(kind) for name, kind in spec.columns})
            pq.write_table(table, directory / spec.name / "part-00000.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()
    directory = clv_bench.snapshot_of(clv_bench.simulate(args.customers, args.seed))
    add_signal_tables(directory, args.customers, args.seed)
    as_of = clv_bench.EPOCH + timedelta(days=clv_bench.OBSERVATION_DAYS - 1)
    source = analytics_engine.open_duckdb(directory)
    times: dict[str, float] = {}

    def timed(name: str, func, *a, **k):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        value = func(*a, **k)
        times[name] = time.perf_counter() - started
        return value

    summary = timed("summary (existing step, for scale)", analytics_refresh.summary_frame,
                    source, as_of=as_of)
    x, tx, age = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    # before
    timed("before: BG/NBD on everything", lambda: BetaGeo().fit(frequency=x, recency=tx, T=age))
    split = timed("calibration split query (before and now)", pipeline.calibration_split,
                  source, as_of=as_of, holdout_days=HOLDOUT_DAYS)
    timed("before: BG/NBD on the calibration part", lambda: BetaGeo().fit(
        frequency=split["frequency_cal"].to_numpy(float),
        recency=split["recency_cal"].to_numpy(float), T=split["T_cal"].to_numpy(float)))
    # now
    choice = timed("now: 3 candidates fitted and judged on the calibration part",
                   pipeline.choose_model, split, holdout_days=HOLDOUT_DAYS)
    full = timed("now: 3 candidates fitted on everything", pipeline.fit_full, summary)
    signals_now = timed("now: signals as of the refresh date", pipeline.signals_frame,
                        source, as_of=as_of)
    at_risk, _ = timed("now: at-risk score (signals as of the calibration end, train, "
                       "score)", pipeline.assess, source, as_of=as_of,
                       holdout_days=HOLDOUT_DAYS, summary=summary, choice=choice, full=full,
                       signals_now=signals_now)
    block = summary.assign(at_risk=at_risk.score).merge(signals_now, on="customer_id",
                                                        how="left")
    empty = pd.DataFrame({"customer_id": pd.Series(dtype="int64"),
                          "defection_stage": pd.Series(dtype=object),
                          "defection_since": pd.Series(dtype=object)})
    stages, changes = timed("now: defection rules + evidence (first refresh: every "
                            "non-active customer is a change)", rules.assign, block, empty,
                            as_of=as_of, limits=rules.Limits())
    later = as_of + timedelta(days=7)  # a week on, nothing bought: the steady state
    week = block.assign(T=block["T"] + 7)
    _, weekly = timed("next week's refresh: defection rules", rules.assign, week,
                      stages.dropna(subset=["defection_stage"]), as_of=later,
                      limits=rules.Limits())
    from sqlalchemy import create_engine

    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{folder}/store.db")
        table = bulk.table_of(DefectionChange)
        table.create(engine)
        with engine.begin() as conn:
            timed("now: stage changes written (SQLite, landing port)", bulk.replace_block,
                  conn, table, changes, where={"as_of": as_of})
        with engine.begin() as conn:
            timed("next week's refresh: stage changes written", bulk.replace_block,
                  conn, table, weekly, where={"as_of": later})
    before = sum(v for k, v in times.items() if k.startswith("before"))
    now = sum(v for k, v in times.items() if k.startswith("now"))
    load_after = os.getloadavg()
    lines = [
        "# Time the \"who is leaving\" steps add to a refresh (benchmarks/atrisk_steps.py)",
        "", f"Command: `.venv/bin/python benchmarks/atrisk_steps.py --customers "
        f"{args.customers}`", "",
        f"- machine: {platform.machine()}, nproc {os.cpu_count()}, Python "
        f"{platform.python_version()}; load average before {load_before[0]:.1f}, after "
        f"{load_after[0]:.1f} (the CPU is shared with other sessions: figures are upper "
        "bounds)",
        f"- data: {len(summary):,} customers with a purchase, two years, as of {as_of}; "
        f"holdout {HOLDOUT_DAYS} days; chosen model {choice.record()['label']}",
        f"- stages: {stages['defection_stage'].value_counts().to_dict()}; "
        f"{len(changes):,} change rows written by this first refresh; a week later "
        f"(no new orders) {len(weekly):,}", "",
        "| step | seconds |", "|---|---:|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in times.items()]
    steady = now - times["now: defection rules + evidence (first refresh: every non-active "
                         "customer is a change)"] - times[
        "now: stage changes written (SQLite, landing port)"] + sum(
        v for k, v in times.items() if k.startswith("next week"))
    lines += ["", f"Model work before: {before:.2f} s (plus the split query). Now, on a "
              f"first refresh: {now:.2f} s (plus the split query): **{now - before:+.2f} s** "
              f"added; on a later refresh (few changes): **{steady - before:+.2f} s**. The "
              "store step also writes four more metric columns with the block.", ""]
    out = ROOT / "results" / "atrisk_steps.md"
    out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
