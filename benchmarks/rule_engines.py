"""Stage rules at refresh scale: the NumPy evaluator against the same rules compiled to
Ibis and run on DuckDB over the in-memory metrics (the two ways kithkin.relationships.rules
can run a rule), on synthetic per-customer metrics.

Timed, each best of ``--repeat``: compiling the built-in models' rules (sqlglot parse,
whitelist, types); the stage ranks of the three built-in models with the NumPy evaluator
(what the refresh does); the same ranks with DuckDB, once as one boolean column per rule
and once as one rank column per model (a ``cases`` chain), from the pandas frame the
refresh holds and from an Arrow table. Both must give the same ranks.

Usage: flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/rule_engines.py [--rows N]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from relationships import synthetic_metrics  # noqa: E402


def best(step: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - start)
    return min(times), result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import ibis
    import pyarrow as pa

    from kithkin.relationships.assignment import assign_ranks
    from kithkin.relationships.definitions import BUILTIN_DIR, load_model_file
    from kithkin.relationships.rules import Evaluator, to_ibis

    load_before = os.getloadavg()
    frame = synthetic_metrics(args.rows)
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    paths = sorted(BUILTIN_DIR.glob("*.toml"))
    compile_s, models = best(lambda: [load_model_file(p) for p in paths], args.repeat)
    rules = [(m.name, s) for m in models for s in m.stages[1:]]

    def numpy_ranks(data: pd.DataFrame) -> list[np.ndarray]:
        evaluator = Evaluator(data)
        return [assign_ranks(model, evaluator) for model in models]

    con = ibis.duckdb.connect(threads=2)

    def duckdb_columns(data: pd.DataFrame | pa.Table) -> list[np.ndarray]:
        table = ibis.memtable(data)
        result = con.to_pyarrow(table.select(**{f"{m}_{s.name}": to_ibis(s.rule, table)
                                                for m, s in rules}))
        ranks = []
        for model in models:
            rank = np.zeros(len(result), dtype=np.int16)
            for stage in model.stages[1:]:
                rank[result[f"{model.name}_{stage.name}"].to_numpy()] = stage.rank
            ranks.append(rank)
        return ranks

    def duckdb_cases(data: pd.DataFrame | pa.Table) -> list[np.ndarray]:
        table = ibis.memtable(data)
        columns = {model.name: ibis.cases(*[(to_ibis(s.rule, table), s.rank)
                                            for s in reversed(model.stages[1:])],
                                          else_=0).cast("int16") for model in models}
        result = con.to_pyarrow(table.select(**columns))
        return [result[model.name].to_numpy() for model in models]

    rows: list[tuple[str, float]] = [(f"compile the built-in models ({len(rules)} rules)",
                                      compile_s)]
    reference: list[np.ndarray] | None = None
    for label, step in [
        ("NumPy evaluator, pandas frame (the refresh)", lambda: numpy_ranks(frame)),
        ("DuckDB, one column per rule, from pandas", lambda: duckdb_columns(frame)),
        ("DuckDB, one column per rule, from Arrow", lambda: duckdb_columns(arrow)),
        ("DuckDB, one cases() rank per model, from pandas", lambda: duckdb_cases(frame)),
        ("DuckDB, one cases() rank per model, from Arrow", lambda: duckdb_cases(arrow)),
    ]:
        seconds, ranks = best(step, args.repeat)
        if reference is None:
            reference = ranks
        elif any(not np.array_equal(a, b) for a, b in zip(reference, ranks, strict=True)):
            raise SystemExit(f"{label}: ranks differ from the NumPy evaluator")
        rows.append((label, seconds))
    load_after = os.getloadavg()

    lines = [
        "# Stage rules: NumPy evaluator vs the same rules compiled to Ibis on DuckDB", "",
        f"{args.rows:,} synthetic customers, 3 built-in models; best of {args.repeat}. "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average before {load_before[0]:.2f} / after {load_after[0]:.2f}.", "",
        "| step | seconds |", "|---|---|",
        *[f"| {label} | {seconds:.3f} |" for label, seconds in rows],
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
