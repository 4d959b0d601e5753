"""The refresh's writer thread alone: its `store` and `defection` steps, before and after.

In ``kithkin refresh`` the metrics block and the defection changes land in a writer
thread while the relationship engine computes, and the relationship step waits for that
thread before its first write: at 1M customers on SQLite the thread is the refresh's
critical path (benchmarks/results/refresh.md). This times its two steps as the refresh
runs them, on benchmarks/refresh.py's store:

- ``prepare`` copies the cached store (generated when missing), enrols the members as
  the refresh benchmark does, and runs the refresh's steps up to the models step once,
  keeping their outputs (pickled, with the store copy and its snapshot) under
  benchmarks/data/landing-N*;
- ``time`` then runs, in a child process per code base (``--before-src``: another
  checkout's ``src``, e.g. the branch point, run first; then this checkout's), on a
  fresh copy of the prepared store each: the at-risk step (not timed: the block and its
  changes), the value columns staged ahead as the refresh stages them during that step
  (waited for, not timed: in the refresh the at-risk step takes longer), then the
  writer thread's work as the refresh calls it (``refresh.land``; code without it:
  ``store``, ``record_defections`` and a checkpoint of what they left); once as a first
  refresh ("cold"), then again for the same as-of ("warm", the refresh benchmark's
  second run). Wall and CPU seconds (this process and its children: the ADBC stages)
  and the store's statements by kind are reported. Results go to
  benchmarks/results/landing_steps.md (other sizes: landing_steps_N.md).

Usage:

    .venv/bin/python benchmarks/landing_steps.py prepare [--customers N --transactions N]
    flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/landing_steps.py time \
        --before-src /tmp/base/src [--customers N --transactions N]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

import refresh as bench  # noqa: E402


def prepare(args: argparse.Namespace) -> None:
    from kithkin.analytics import engine as analytics_engine
    from kithkin.analytics import fitting as models
    from kithkin.analytics import refresh

    store, home, inputs = bench.work_paths(args, "landing")
    bench.fresh_copy(args, store, home)
    settings, engine = bench.open_store(home, store)
    options = models.ModelOptions()
    as_of = bench.AS_OF
    result = refresh.RefreshResult(as_of=as_of, engine="duckdb")
    source = analytics_engine.connect(settings, store=engine)
    history = refresh.order_history(source, as_of=as_of, holdout_days=options.holdout_days)
    summary = refresh.summary_frame(source, as_of=as_of, history=history)
    features = refresh.feature_frame(source, as_of=as_of, history=history)
    choice = refresh.choose_purchase_model(source, as_of=as_of, options=options,
                                           history=history)
    analytics_engine.release(source, history)
    full, fitted = refresh.fit_models(summary=summary, features=features, choice=choice,
                                      as_of=as_of, options=options, settings=settings,
                                      result=result)
    engine.dispose()
    with inputs.open("wb") as out:
        pickle.dump({"summary": summary, "features": features, "choice": choice,
                     "full": full, "predictions": fitted.predictions, "options": options,
                     "model_params": result.model_params,
                     "model_error": result.model_error}, out)
    print(f"prepared {store}, {home}, {inputs}")


def statement_kind(sql: str) -> str:
    """A statement's kind for the breakdown: verb and table (index name for DDL)."""
    words = sql.split()
    verb = words[0].upper() if words else ""
    if verb in ("CREATE", "DROP"):
        return " ".join(words[:3] if words[1].upper() == "INDEX" else words[:4])
    if verb in ("INSERT", "DELETE") and len(words) > 2:
        return f"{verb} {words[2]}"
    if verb == "UPDATE" and len(words) > 1:
        return f"UPDATE {words[1]}"
    if verb == "SELECT" and "FROM" in (w.upper() for w in words):
        return "SELECT FROM " + words[[w.upper() for w in words].index("FROM") + 1]
    return verb


def sync_schema(url: str) -> None:
    """The prepared store's analytics tables as this code's models have them: they are
    empty before the first refresh, so they are dropped and created again (the cached
    store was migrated by whichever code generated it)."""
    from sqlalchemy import inspect, text

    from kithkin.database import registry  # noqa: F401  (every table in the metadata)
    from kithkin.database.base import Base
    from kithkin.database.core import build_engine

    names = ("customer_metric", "defection_change", "defection_status")
    engine = build_engine(url)
    with engine.begin() as conn:
        stored = set(inspect(conn).get_table_names())
        for name in names:
            if name in stored:
                assert conn.execute(text(f"SELECT count(*) FROM {name}")).scalar() == 0
                conn.execute(text(f"DROP TABLE {name}"))
        for name in names:
            if name in Base.metadata.tables:
                Base.metadata.tables[name].create(conn)
    engine.dispose()




def child(args: argparse.Namespace) -> None:
    """The two runs on this process's code; prints one JSON line of figures."""
    from sqlalchemy import event

    from kithkin.analytics import engine as analytics_engine
    from kithkin.analytics import refresh
    from kithkin.config import Settings
    from kithkin.database.core import build_engine

    store, home, inputs = bench.work_paths(args, "landing")
    with inputs.open("rb") as handle:
        data = pickle.load(handle)
    work = store.with_name(store.stem + "-timing.db")
    for stale in (Path(f"{work}-wal"), Path(f"{work}-shm")):
        stale.unlink(missing_ok=True)
    shutil.copyfile(store, work)
    url = f"sqlite:///{work}"
    sync_schema(url)
    settings = Settings(home=home, database_url=url)
    engine = build_engine(settings.resolved_database_url)
    statements: dict[str, float] = defaultdict(float)
    started_at: list[float] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _before(*_: Any) -> None:
        started_at.append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _after(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        statements[statement_kind(sql)] += time.perf_counter() - started_at.pop()

    source = analytics_engine.open_duckdb(settings.snapshot_dir)
    figures: dict[str, Any] = {"code": str(Path(refresh.__file__).parents[2])}
    try:
        for label in ("cold", "warm"):
            result = refresh.RefreshResult(as_of=bench.AS_OF, engine="duckdb")
            result.model_params = dict(data["model_params"])
            result.model_error = data["model_error"]
            block, changes, ahead = refresh.at_risk_step(
                engine=engine, settings=settings, source=source, as_of=bench.AS_OF,
                options=data["options"], features=data["features"], summary=data["summary"],
                predictions=data["predictions"], choice=data["choice"], full=data["full"],
                result=result)
            if ahead.pending is not None:  # the refresh's at-risk step outlasts the stage
                ahead.pending.process.wait()
            landing = block.copy()
            statements.clear()
            steps: dict[str, Any] = {}
            wall, used = time.perf_counter(), bench.cpu_seconds()
            if hasattr(refresh, "land"):  # the writer thread's own function
                refresh.land(engine=engine, settings=settings, result=result,
                             block=landing, changes=changes, ahead=ahead)
                customers = result.customers
                steps["store"] = result.timings["store"]
                steps["defection"] = result.timings["defection"]
                steps["checkpoint"] = result.timings["checkpoint"]
            else:  # as the writer thread called them before it had one
                try:
                    customers = refresh.store(engine=engine, result=result, block=landing,
                                              ahead=ahead)
                finally:
                    ahead.discard()
                steps["store"] = time.perf_counter() - wall
                refresh.record_defections(engine=engine, settings=settings, result=result,
                                          block=landing, changes=changes)
                steps["defection"] = time.perf_counter() - wall - steps["store"]
                began = time.perf_counter()
                with engine.connect() as conn:  # what its commits left in the log
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                steps["checkpoint"] = time.perf_counter() - began
            steps["cpu"] = bench.cpu_seconds() - used
            steps["statements"] = dict(statements)
            steps["customers"] = customers
            steps["defection result"] = result.defection
            figures[label] = steps
            print(f"{label}: {steps}", file=sys.stderr, flush=True)
    finally:
        engine.dispose()
        for path in (work, Path(f"{work}-wal"), Path(f"{work}-shm")):
            path.unlink(missing_ok=True)
    print(json.dumps(figures, default=str))


def run_code(args: argparse.Namespace, src: Path | None) -> dict[str, Any]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    command = [sys.executable, __file__, "child", "--customers", str(args.customers),
               "--transactions", str(args.transactions), "--seed", str(args.seed)]
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=True)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def report(args: argparse.Namespace) -> None:
    load_before = bench.machine()
    runs: list[tuple[str, dict[str, Any]]] = []
    if args.before_src:
        runs.append(("before", run_code(args, Path(args.before_src))))
    runs.append(("after", run_code(args, None)))
    load_after = bench.machine()
    suffix = "" if args.customers == 1_000_000 else f"_{args.customers}"
    lines = [
        "# Benchmark: the refresh's writer thread (store and defection steps)", "",
        f"Command: `flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/landing_steps.py "
        f"time --customers {args.customers} --transactions {args.transactions}"
        + (f" --before-src {args.before_src}`" if args.before_src else "`"), "",
        f"- sizes: {args.customers:,} customers, {args.transactions:,} orders "
        f"(benchmarks/refresh.py's store, {int(0.3 * 100)} % enrolled), as of {bench.AS_OF}",
        f"- machine before: {load_before}",
        f"- machine after: {load_after}",
        *(f"- {label}: code from {figures['code']}" for label, figures in runs),
        "",
        "Each step as the writer thread runs it, alone (no relationship engine beside it). "
        "cold: a first refresh; warm: the same as-of again. Writer CPU: the three "
        "columns' work in this process and its children (the ADBC stages). "
        "'until committed': store + defection, what the "
        "relationship step waits for; 'checkpoint after': a passive WAL checkpoint run "
        "after both commits (the code that defers the checkpoint runs it then, while the "
        "relationships write; the code that does not checkpointed inside its commits).", "",
        "| code | run | store s | defection s | until committed s | checkpoint after s | "
        "writer CPU s | changes written |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, figures in runs:
        for run in ("cold", "warm"):
            steps = figures[run]
            lines.append(f"| {label} | {run} | {steps['store']:.2f} | {steps['defection']:.2f} | "
                         f"**{steps['store'] + steps['defection']:.2f}** | "
                         f"{steps['checkpoint']:.2f} | {steps['cpu']:.2f} | "
                         f"{steps['defection result'].get('changes', 0):,} |")
    lines += ["", "Statements by kind (seconds; the rest of a step is Python, staging "
              "and the commit):", ""]
    for label, figures in runs:
        for run in ("cold", "warm"):
            top = sorted(figures[run]["statements"].items(), key=lambda kv: -kv[1])[:10]
            lines.append(f"- {label} {run}: " + "; ".join(
                f"`{kind}` {seconds:.2f}" for kind, seconds in top if seconds >= 0.01))
    lines += ["", *(f"- {label} {run} defection: {figures[run]['defection result']}"
                    for label, figures in runs for run in ("cold", "warm"))]
    out = bench.RESULTS / f"landing_steps{suffix}.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("prepare", "time", "child"))
    bench.size_arguments(parser)
    parser.add_argument("--before-src", default="",
                        help="the src folder of the code to time first (e.g. the branch point)")
    args = parser.parse_args()
    {"prepare": prepare, "time": report, "child": child}[args.action](args)


if __name__ == "__main__":
    main()
