"""The refresh's analytics steps (summary, features, holdout, models, at_risk, defection)
alone, on benchmarks/refresh.py's store.

``prepare`` copies the cached store of benchmarks/refresh.py (generating it first if it
is missing) to a work file of its own, enrols the members as it does and writes the
Parquet snapshot; ``time`` copies that
store again and runs the six steps as :func:`kithkin.analytics.refresh.run` calls them
(the store step, owned elsewhere, is left out), twice in one process: a first refresh
("cold": no stages yet) and the same as-of again ("warm"). ``--save`` / ``--compare``
keep and check the block, the stage changes and the run's parameters, so a change that
should not alter results can be shown not to. Usage:

    flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/refresh_analytics_steps.py \
        prepare|time [--save F | --compare F] [--out results/refresh_analytics_steps.md]
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

import refresh as bench  # noqa: E402

from kithkin.analytics import engine as analytics_engine  # noqa: E402
from kithkin.analytics import fitting as models  # noqa: E402
from kithkin.analytics import refresh  # noqa: E402
from kithkin.config import Settings  # noqa: E402


def prepare(args: argparse.Namespace) -> None:
    store, home, _ = bench.work_paths(args, "analytics")
    bench.fresh_copy(args, store, home)
    settings, engine = bench.open_store(home, store)
    analytics_engine.connect(settings, store=engine)
    engine.dispose()
    print(f"prepared {store}, {home}")


def one_refresh(*, settings: Settings, engine: Any, source: analytics_engine.AnalyticsSource,
                timings: dict[str, float]) -> tuple[pd.DataFrame, pd.DataFrame,
                                                    refresh.RefreshResult]:
    """The steps as ``refresh.run`` chains them (without the store step)."""
    as_of, options = bench.AS_OF, models.ModelOptions()
    result = refresh.RefreshResult(as_of=as_of, engine=source.engine)

    @contextmanager
    def step(name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        timings[name] = time.perf_counter() - started

    with step("summary"):
        history = refresh.order_history(source, as_of=as_of,
                                        holdout_days=options.holdout_days)
        summary = refresh.summary_frame(source, as_of=as_of, history=history)
    with step("features"):
        features = refresh.feature_frame(source, as_of=as_of, history=history)
    with step("holdout"):
        choice = refresh.choose_purchase_model(source, as_of=as_of, options=options,
                                               history=history)
        analytics_engine.release(source, history)
    with step("models"):
        full, fitted = refresh.fit_models(summary=summary, features=features,
                                          choice=choice, as_of=as_of, options=options,
                                          settings=settings, result=result)
    with step("at_risk"):
        block = refresh.combine(features, summary, fitted.predictions)
        block = refresh.score_and_assign(engine=engine, settings=settings, source=source,
                                         as_of=as_of, options=options, summary=summary,
                                         block=block, choice=choice, full=full,
                                         result=result)
        changes = block.attrs.pop("changes")
    with step("defection"):
        refresh.record_defections(engine=engine, settings=settings, result=result,
                                  block=block, changes=changes)
    return block, changes, result


def compare(label: str, now: dict[str, Any], was: dict[str, Any]) -> list[str]:
    out = []
    a = now["block"].sort_values("customer_id", ignore_index=True)
    b = was["block"].sort_values("customer_id", ignore_index=True)
    worst = []
    for column in b.columns:
        if column not in a:
            worst.append(f"{column} missing")
            continue
        x, y = a[column], b[column]
        if pd.api.types.is_float_dtype(y):
            xv, yv = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
            same_nan = np.array_equal(np.isnan(xv), np.isnan(yv))
            rel = np.abs(xv - yv) / np.maximum(np.abs(yv), 1e-300)
            rel[xv == yv] = 0.0
            top = float(np.nanmax(rel)) if np.isfinite(rel).any() else 0.0
            if not same_nan or top > 1e-9:
                worst.append(f"{column} rel {top:.1e} nan-equal {same_nan}")
        elif not x.equals(y):
            worst.append(f"{column} differs ({int((x.astype(str) != y.astype(str)).sum())})")
    out.append(f"- {label} block ({len(a):,} x {a.shape[1]}): "
               f"{'; '.join(worst) if worst else 'equal (floats within 1e-9 relative)'}")
    key = ["customer_id", "to_stage"]
    ca = now["changes"].sort_values(key, ignore_index=True)
    cb = was["changes"].sort_values(key, ignore_index=True)
    out.append(f"- {label} changes: {len(ca):,} vs {len(cb):,}, "
               f"{'equal' if ca[key].equals(cb[key]) else 'DIFFER'}")
    out.append(f"- {label} defection: {now['defection']} vs {was['defection']}")
    now_flat, was_flat = flatten(now["params"]), flatten(was["params"])
    moved = []
    for key in sorted(set(now_flat) | set(was_flat)):
        a_value, b_value = now_flat.get(key), was_flat.get(key)
        if a_value == b_value:
            continue
        if isinstance(a_value, float) and isinstance(b_value, float) and b_value:
            moved.append((abs(a_value - b_value) / abs(b_value), key))
        else:
            moved.append((float("inf"), f"{key}: {a_value!r} vs {b_value!r}"))
    moved.sort(reverse=True)
    out.append(f"- {label} model params: {len(now_flat)} values, "
               + (f"{len(moved)} differ, largest: "
                  + "; ".join(f"{key} ({rel:.1e})" for rel, key in moved[:4])
                  if moved else "identical"))
    return out


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items()
                for k, v in flatten(item, f"{prefix}{key}.").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value)
                for k, v in flatten(item, f"{prefix}{i}.").items()}
    return {prefix.rstrip("."): float(value) if isinstance(value, int | float)
            and not isinstance(value, bool) else value}


def run_steps(args: argparse.Namespace) -> None:
    load_before = os.getloadavg()
    store, home, _ = bench.work_paths(args, "analytics")
    work = store.with_name(store.stem + "-timing.db")
    shutil.copyfile(store, work)
    settings, engine = bench.open_store(home, work)
    source = analytics_engine.open_duckdb(settings.snapshot_dir)
    runs: dict[str, dict[str, float]] = {}
    kept: dict[str, dict[str, Any]] = {}
    try:
        for label in ("cold", "warm"):
            timings: dict[str, float] = {}
            block, changes, result = one_refresh(settings=settings, engine=engine,
                                                 source=source, timings=timings)
            runs[label] = timings
            print(label, {k: round(v, 2) for k, v in timings.items()},
                  f"total {sum(timings.values()):.2f}", flush=True)
            kept[label] = {"block": block, "changes": changes, "defection": result.defection,
                           "params": result.model_params}
    finally:
        engine.dispose()
        work.unlink()
    load_after = os.getloadavg()
    checks: list[str] = []
    if args.save:
        with args.save.open("wb") as out:
            pickle.dump(kept, out)
    if args.compare:
        with args.compare.open("rb") as handle:
            before = pickle.load(handle)
        for label in kept:
            checks += compare(label, kept[label], before[label])
    lines = ["# The refresh's analytics steps (benchmarks/refresh_analytics_steps.py)", "",
             "Command: `flock /tmp/kithkin-bench.lock .venv/bin/python "
             "benchmarks/refresh_analytics_steps.py time`", "",
             f"- {args.customers:,} customers, {args.transactions:,} orders, 30 % enrolled, "
             f"as of {bench.AS_OF}; SQLite store, DuckDB on the Parquet snapshot",
             f"- load average before {', '.join(f'{x:.2f}' for x in load_before)}; after "
             f"{', '.join(f'{x:.2f}' for x in load_after)}; nproc {os.cpu_count()}", "",
             "| step | cold s | warm s |", "|---|---:|---:|"]
    for name in runs["cold"]:
        lines.append(f"| {name} | {runs['cold'][name]:.2f} | {runs['warm'][name]:.2f} |")
    lines.append(f"| **total** | **{sum(runs['cold'].values()):.2f}** | "
                 f"**{sum(runs['warm'].values()):.2f}** |")
    lines += ["", *checks, ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("prepare", "time"))
    bench.size_arguments(parser)
    parser.add_argument("--save", type=Path)
    parser.add_argument("--compare", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    (prepare if args.action == "prepare" else run_steps)(args)


if __name__ == "__main__":
    main()
