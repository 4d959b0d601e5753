"""The `holdout` and `models` steps of `kithkin refresh` alone, on a Parquet snapshot.

benchmarks/refresh.py times the whole refresh (minutes at 1M customers); this script
times the two purchase-model steps on the same data without the rest: it opens DuckDB
over a snapshot directory (e.g. the 1M store's ``<name>-home/snapshots`` left by
benchmarks/refresh.py), builds the summary once, then runs each part of the two steps as
the refresh calls it and writes the timings. ``--save`` / ``--compare`` keep and check
the per-customer predictions and parameters, so a change that should not alter results
can be shown not to.

Usage: .venv/bin/python benchmarks/refresh_models.py SNAPSHOT_DIR [--as-of 2024-06-30]
       [--save before.npz | --compare before.npz] [--out results/refresh_models.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))

from kithkin.analytics import engine as analytics_engine  # noqa: E402
from kithkin.analytics import fitting as models  # noqa: E402
from kithkin.analytics import holdout  # noqa: E402
from kithkin.analytics import refresh as analytics_refresh  # noqa: E402
from kithkin.atrisk import pipeline as atrisk_pipeline  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2024, 6, 30))
    parser.add_argument("--save", type=Path)
    parser.add_argument("--compare", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    load_before = os.getloadavg()
    options = models.ModelOptions()
    source = analytics_engine.open_duckdb(args.snapshot)
    times: dict[str, float] = {}

    def timed(name: str, func: Callable[..., Any], *a: Any, **k: Any) -> Any:
        started = time.perf_counter()
        value = func(*a, **k)
        times[name] = time.perf_counter() - started
        print(f"{name}: {times[name]:.2f} s", flush=True)
        return value

    summary = timed("summary (for scale)", analytics_refresh.summary_frame, source,
                    as_of=args.as_of)
    split = timed("holdout: calibration split", atrisk_pipeline.calibration_split, source,
                  as_of=args.as_of, holdout_days=options.holdout_days)
    # DuckDB returns the customers in an order that varies from run to run, and the
    # sampled fits take rows by position: in customer order both versions compared see
    # the same sample
    summary = summary.sort_values("customer_id", ignore_index=True)
    split = split.sort_values("customer_id", ignore_index=True)
    choice = timed("holdout: choose_model", atrisk_pipeline.choose_model, split,
                   holdout_days=options.holdout_days)
    full = timed("models: fit_full", atrisk_pipeline.fit_full, summary)
    chosen = atrisk_pipeline.chosen_model(choice, full)
    key = next(k for k, m in full.models.items() if m is chosen)
    fitted = timed("models: fit_and_predict", models.fit_and_predict, summary, margin=0.25,
                   options=options, purchase_model=(key, chosen))
    check = timed("models: holdout.evaluate", holdout.evaluate, split, as_of=args.as_of,
                  holdout_days=options.holdout_days, model=choice.fits.models[key])
    steps = {"holdout": sum(v for k, v in times.items() if k.startswith("holdout")),
             "models": sum(v for k, v in times.items() if k.startswith("models"))}
    load_after = os.getloadavg()

    predictions = fitted.predictions.sort_values("customer_id")
    params = {"choice": choice.record(), "full": {k: m.params_ for k, m in full.models.items()},
              "fitted": {k: v for k, v in fitted.params.items() if isinstance(v, dict)},
              "holdout": check}
    arrays = {c: predictions[c].to_numpy(dtype=float) for c in models.MODEL_COLUMNS}
    if args.save:
        np.savez(args.save, params=json.dumps(params, default=str), **arrays)
    comparison: list[str] = []
    if args.compare:
        before = np.load(args.compare)
        for column, now in arrays.items():
            was = before[column]
            relative = np.abs(now - was) / np.maximum(np.abs(was), 1e-300)
            relative[(now == was)] = 0.0
            comparison.append(f"- {column}: max relative difference {np.nanmax(relative):.2e}"
                              f" (NaN where before: {int(np.isnan(was).sum())}, now: "
                              f"{int(np.isnan(now).sum())})")
        was_params = json.loads(str(before["params"]))
        comparison.append(f"- chosen before: {was_params['choice']['chosen']}, now: "
                          f"{choice.chosen}")
        for name, values in params["full"].items():
            old = was_params["full"].get(name, {})
            worst = max((abs(v - old[k]) / abs(old[k]) for k, v in values.items() if k in old),
                        default=float("nan"))
            comparison.append(f"- full fit {name}: max relative parameter change {worst:.2e}")
        for name, record in params["choice"]["candidates"].items():
            old = was_params["choice"]["candidates"].get(name, {})
            comparison.append(f"- holdout {name}: auc {old.get('auc')} -> {record.get('auc')},"
                              f" mae {old.get('mean_absolute_error')} -> "
                              f"{record.get('mean_absolute_error')}")

    lines = [
        "# The holdout and models steps of `kithkin refresh` (benchmarks/refresh_models.py)",
        "", f"Command: `.venv/bin/python benchmarks/refresh_models.py {args.snapshot}`", "",
        f"- machine: {platform.machine()}, nproc {os.cpu_count()}, Python "
        f"{platform.python_version()}; load average before {load_before[0]:.2f}, after "
        f"{load_after[0]:.2f}",
        f"- data: {len(summary):,} customers, {len(split):,} before the calibration end, "
        f"as of {args.as_of}; chosen model {choice.chosen}; full fits on {full.sample:,} "
        "(sampled candidates)", "",
        "| part | seconds |", "|---|---:|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in times.items()]
    lines += [f"| **{k} step** | **{v:.2f}** |" for k, v in steps.items()]
    lines += ["", *comparison, ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
