"""The refresh's `store` step: one as-of block of per-customer metrics into SQLite.

A migrated store with ``--customers`` customers (no orders: the block is synthetic, one
row per customer with every metric column filled, seeded) receives, timed side by side
in one run:

1. the reference: the same rows handed to ``sqlite3`` ``executemany`` into a table of the
   same columns without indexes (the least a Python process can do to land them);
2. the first block (``metrics_service.replace_as_of``, the refresh's own call), without
   and with the value columns staged ahead (``stage_ahead``, started while the refresh
   scores who is at risk, a step that takes longer than the stage: here the write
   starts when the stage is done);
3. the same as-of again (a re-run: the block is replaced), and the next day's block
   (a second block beside the first: the daily case);
4. the five secondary indexes of one block built with ``temp_store = MEMORY`` and with
   the store's settings (``FILE``, a 16 MiB sorter cache, two sorter threads).

Each measurement starts from a fresh copy of the store. Results go to
benchmarks/results/metrics_store.md (``--quick``: metrics_store_quick.md).

Usage: flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/metrics_store.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
AS_OF, NEXT = date(2024, 6, 30), date(2024, 7, 1)


def build_store(path: Path, customers: int) -> None:
    from kithkin.database.core import build_engine
    from kithkin.database.manage import upgrade

    engine = build_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    with sqlite3.connect(path) as conn:
        conn.executemany("INSERT INTO customer (id, created_at, updated_at) VALUES (?, ?, ?)",
                         ((i, "2024-01-01 00:00:00.000000", "2024-01-01 00:00:00.000000")
                          for i in range(1, customers + 1)))


def block(customers: int, seed: int) -> pd.DataFrame:
    """One row per customer, every metric column, values of each column's type."""
    from kithkin.analytics.models import CustomerMetric

    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {"customer_id": np.arange(1, customers + 1)}
    for column in CustomerMetric.__table__.columns:
        if column.name in ("id", "as_of", "customer_id"):
            continue
        kind = column.type.python_type
        if kind is float:
            data[column.name] = rng.random(customers) * 100
        elif kind is int:
            data[column.name] = rng.integers(0, 5, customers)
        elif kind is datetime:
            data[column.name] = pd.Timestamp("2023-01-01", tz="UTC") + pd.to_timedelta(
                rng.integers(0, 500 * 86400, customers), unit="s")
        elif kind is date:
            data[column.name] = pd.Timestamp("2024-01-01").date()
        elif kind is bool:
            data[column.name] = rng.random(customers) < 0.3
        else:
            data[column.name] = np.array(["champions", "at risk", "lost"], dtype=object)[
                rng.integers(0, 3, customers)]
    return pd.DataFrame(data)


LATE = ("at_risk", "value_at_risk", "defection_stage", "defection_since")


def write(path: Path, frame: pd.DataFrame, as_of: date, *, ahead: bool) -> float:
    """``replace_as_of`` as the refresh calls it; with ``ahead`` the columns but
    :data:`LATE` are staged first (the time of the stage is not counted)."""
    from kithkin.analytics import service as metrics_service
    from kithkin.database.core import build_engine, session_scope

    engine = build_engine(f"sqlite:///{path}")
    try:
        staged = None
        if ahead:
            staged = metrics_service.stage_ahead(
                engine=engine, as_of=as_of, metrics=frame.drop(columns=list(LATE)))
            assert staged.pending is not None, "ADBC (adbc-driver-sqlite) is not installed"
            staged.pending.process.wait()  # the at-risk step takes longer than the stage
        started = time.perf_counter()
        with session_scope(engine) as session:
            metrics_service.replace_as_of(session=session, as_of=as_of, metrics=frame,
                                          run={"engine": "duckdb"}, ahead=staged)
        return time.perf_counter() - started
    finally:
        engine.dispose()


def reference(path: Path, frame: pd.DataFrame) -> float:
    """The rows into an unindexed table of the same columns, by ``executemany``."""
    from kithkin.analytics.models import CustomerMetric
    from kithkin.database import bulk

    table = bulk.table_of(CustomerMetric)
    rows = bulk.conform(table, frame, constants={"as_of": AS_OF}, complete=True)
    names = rows.column_names
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE plain ({', '.join(names)})")
        started = time.perf_counter()
        tuples = list(zip(*(rows.column(n).to_pylist() for n in names), strict=True))
        conn.executemany(f"INSERT INTO plain VALUES ({', '.join('?' * len(names))})", tuples)
        conn.commit()
        return time.perf_counter() - started


def index_builds(path: Path, temp_store: str) -> float:
    """The block's five secondary indexes dropped and built again in one transaction."""
    from sqlalchemy import text

    from kithkin.analytics.models import CustomerMetric
    from kithkin.database import bulk
    from kithkin.database.core import build_engine

    table = bulk.table_of(CustomerMetric)
    engine = build_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            conn.execute(text(f"PRAGMA temp_store = {temp_store}"))
            conn.commit()
            with conn.begin():
                indexes = [index for index in table.indexes if not index.unique]
                for index in indexes:
                    index.drop(conn)
                started = time.perf_counter()
                with bulk.sqlite.index_builds(conn):
                    for index in indexes:
                        index.create(conn)
                seconds = time.perf_counter() - started
            return seconds
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100k customers")
    args = parser.parse_args()
    customers = 100_000 if args.quick else args.customers
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="kithkin-metrics-store-", dir=ROOT))
    try:
        base = work / "base.db"
        build_store(base, customers)
        frame, again, later = (block(customers, seed) for seed in (1, 2, 3))

        def fresh(name: str, prepare: Callable[[Path], object] | None = None) -> Path:
            path = work / f"{name}.db"
            shutil.copyfile(base, path)
            if prepare is not None:
                prepare(path)
            return path

        timings: list[tuple[str, float]] = []

        def first(path: Path) -> float:
            return write(path, frame, AS_OF, ahead=False)

        timings.append(("reference: executemany into an unindexed table",
                        reference(fresh("reference"), frame)))
        timings.append(("first block", first(fresh("first"))))
        timings.append(("first block, value columns staged ahead",
                        write(fresh("ahead"), frame, AS_OF, ahead=True)))
        timings.append(("the same as-of again (re-run)",
                        write(fresh("rerun", first), again, AS_OF, ahead=False)))
        timings.append(("the same as-of again, staged ahead",
                        write(fresh("rerun-ahead", first), again, AS_OF, ahead=True)))
        timings.append(("the next day's block (beside the first)",
                        write(fresh("next", first), later, NEXT, ahead=False)))
        timings.append(("the next day's block, staged ahead",
                        write(fresh("next-ahead", first), later, NEXT, ahead=True)))
        indexed = fresh("indexes", first)
        timings.append(("five indexes of one block built, temp_store = MEMORY",
                        index_builds(indexed, "MEMORY")))
        timings.append(("five indexes of one block built, temp_store = FILE (the store's)",
                        index_builds(indexed, "FILE")))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    reference_seconds = timings[0][1]
    by_name = dict(timings)
    ahead_seconds = by_name["first block, value columns staged ahead"]
    lines = [
        "# Benchmark: the refresh's store step (one metrics block into SQLite)",
        "",
        f"Command: `flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/metrics_store.py"
        f"{' --quick' if args.quick else ''}`",
        "",
        f"**First block: {by_name['first block']:.2f} s = "
        f"{by_name['first block'] / reference_seconds:.1f}x the executemany reference "
        f"({reference_seconds:.2f} s); staged ahead {ahead_seconds:.2f} s = "
        f"{ahead_seconds / reference_seconds:.1f}x.**",
        "",
        f"- machine: {platform.platform()}, Python {platform.python_version()}, nproc "
        f"{os.cpu_count()}, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"(before the run: {', '.join(f'{x:.2f}' for x in load_before)})",
        f"- sizes: {customers:,} customers, one row each, {len(frame.columns)} columns; "
        f"staged ahead: every column but {', '.join(LATE)}, written once the stage is "
        "done (in the refresh it runs beside the longer at-risk step)",
        "",
        "| measurement | seconds | x reference |",
        "|---|---:|---:|",
        *(f"| {name} | {seconds:.2f} | {seconds / reference_seconds:.2f} |"
          for name, seconds in timings),
        "",
    ]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("metrics_store_quick.md" if args.quick else "metrics_store.md")
    out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
