"""The refresh's at_risk and defection steps alone, on benchmarks/refresh.py's store.

``prepare`` copies the cached store of benchmarks/refresh.py, enrols the members as it
does, runs the refresh's steps up to the models step once and keeps their outputs
(pickled, with the store copy and the snapshot) under benchmarks/data/; ``time`` then
runs ``score_and_assign`` and ``record_defections`` on them as the refresh does, twice
(a first refresh, then the same as-of again, as the benchmark's warm run), and prints
each step's seconds and CPU seconds (``--write``: appended to
benchmarks/results/atrisk_refresh_steps.md; run another version of the code with
``PYTHONPATH=<its src>`` for a before/after). Usage:

    .venv/bin/python benchmarks/atrisk_refresh_steps.py prepare [--customers N ...]
    .venv/bin/python benchmarks/atrisk_refresh_steps.py time [--customers N ...]
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

import refresh as bench  # noqa: E402

from kithkin.analytics import engine as analytics_engine  # noqa: E402
from kithkin.analytics import fitting as models  # noqa: E402
from kithkin.analytics import refresh  # noqa: E402
from kithkin.atrisk import pipeline as atrisk_pipeline  # noqa: E402


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())






def prepare(args: argparse.Namespace) -> None:
    store, home, inputs = bench.work_paths(args, "atrisk")
    bench.fresh_copy(args, store, home)
    settings, engine = bench.open_store(home, store)
    options = models.ModelOptions()
    as_of = bench.AS_OF
    source = analytics_engine.connect(settings, store=engine)
    summary = refresh.summary_frame(source, as_of=as_of)
    features = refresh.feature_frame(source, as_of=as_of)
    split = atrisk_pipeline.calibration_split(source, as_of=as_of,
                                              holdout_days=options.holdout_days)
    choice = atrisk_pipeline.choose_model(split, holdout_days=options.holdout_days)
    margin, margin_source = models.choose_margin(features, option=options.margin,
                                                 default_margin=settings.default_margin)
    full = atrisk_pipeline.fit_full(summary)
    chosen = atrisk_pipeline.chosen_model(choice, full)
    key = next((k for k, m in full.models.items() if m is chosen), "")
    fitted = models.fit_and_predict(summary, margin=margin, options=options,
                                    margin_source=margin_source,
                                    purchase_model=(key, chosen) if chosen else None)
    engine.dispose()
    with inputs.open("wb") as out:
        pickle.dump({"summary": summary, "features": features, "choice": choice,
                     "full": full, "fitted": fitted, "options": options}, out)
    print(f"prepared {store}, {home}, {inputs}")


def run_steps(args: argparse.Namespace) -> None:
    store, home, inputs = bench.work_paths(args, "atrisk")
    with inputs.open("rb") as handle:
        data = pickle.load(handle)
    work = store.with_name(store.stem + "-timing.db")
    shutil.copyfile(store, work)
    settings, engine = bench.open_store(home, work)
    source = analytics_engine.open_duckdb(settings.snapshot_dir)
    out = []
    before = load()
    try:
        for label in ("cold", "warm"):
            result = refresh.RefreshResult(as_of=bench.AS_OF, engine="duckdb")
            result.model_params = dict(data["fitted"].params)  # as the models step leaves it
            # the refresh's at_risk step: the block combined, its first columns staged
            # ahead (discarded here: the store step is not timed), scored and assigned
            started, used = time.perf_counter(), bench.cpu_seconds()
            block, changes, ahead = refresh.at_risk_step(
                engine=engine, settings=settings, source=source, as_of=bench.AS_OF,
                options=data["options"], features=data["features"], summary=data["summary"],
                predictions=data["fitted"].predictions, choice=data["choice"],
                full=data["full"], result=result)
            at_risk, at_risk_cpu = time.perf_counter() - started, bench.cpu_seconds() - used
            ahead.discard()
            started, used = time.perf_counter(), bench.cpu_seconds()
            refresh.record_defections(engine=engine, settings=settings, result=result,
                                      block=block, changes=changes)
            defection, defection_cpu = time.perf_counter() - started, bench.cpu_seconds() - used
            out.append(f"| {label} | {at_risk:.2f} | {at_risk_cpu:.2f} | {defection:.2f} | "
                       f"{defection_cpu:.2f} | {load()} | {result.defection} |")
            print(out[-1], flush=True)
            if args.dump:
                block.to_pickle(f"{args.dump}-{label}-block.pickle")
                changes.to_pickle(f"{args.dump}-{label}-changes.pickle")
                with open(f"{args.dump}-{label}-params.pickle", "wb") as fh:
                    pickle.dump(result.model_params, fh)
                with sqlite3.connect(work) as conn:
                    for table, sql in (
                            ("stored-changes", "SELECT id, customer_id, as_of, changed_on, "
                             "from_stage, to_stage, rule, score, evidence FROM "
                             "defection_change ORDER BY id"),
                            ("stored-tasks", "SELECT id, customer_id, title, reason, status, "
                             "priority, dedupe_key, details FROM task ORDER BY id")):
                        pd.read_sql_query(sql, conn).to_pickle(
                            f"{args.dump}-{label}-{table}.pickle")
    finally:
        engine.dispose()
        work.unlink()
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                            capture_output=True, text=True, check=False).stdout.strip()
    lines = [f"## {args.label}", "", f"- code: {commit} (kithkin from "
             f"{Path(refresh.__file__).parents[2]}); load average before: {before}", "",
             "| run | at_risk s | at_risk CPU s | defection s | defection CPU s | "
             "load average after | defection |", "|---|---:|---:|---:|---:|---|---|", *out]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        bench.append_result("atrisk_refresh_steps.md", text, header=(
            "# The refresh's at_risk and defection steps alone "
            "(benchmarks/atrisk_refresh_steps.py)\n\n"
            f"Store: benchmarks/refresh.py's {args.customers:,} customers, "
            f"{args.transactions:,} orders, as of {bench.AS_OF}; at_risk is the refresh's "
            "step (block combined, first columns staged ahead, score, stages); CPU: this "
            "process (all its threads) and its finished children.\n\n"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("prepare", "time"))
    bench.size_arguments(parser)
    parser.add_argument("--dump", default="", help="pickle the outputs under this prefix")
    parser.add_argument("--label", default="run")
    parser.add_argument("--write", action="store_true",
                        help="append the figures to benchmarks/results/atrisk_refresh_steps.md")
    args = parser.parse_args()
    (prepare if args.action == "prepare" else run_steps)(args)


if __name__ == "__main__":
    main()
