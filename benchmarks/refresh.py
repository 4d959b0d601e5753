"""The whole `kithkin refresh` on the embedded default (SQLite store + DuckDB analytics).

Store content: ``--customers`` customers and ``--transactions`` orders, bulk-loaded with
sqlite3 ``executemany`` into a migrated store and cached in benchmarks/data/. Customers are
acquired over three years before the as-of date, buy at gamma-heterogeneous rates while
alive and drop out after an exponential lifetime (so BG/NBD has dropout to identify);
lognormal amounts, cost 55-70 % of the amount, 10 % discounted, 1 % refunds. Each run works
on a fresh copy of the cached store, so the first refresh is a real first one.

Each run works on a fresh copy and enrols ``--members`` (30 %) of the customers in the
loyalty programme (the shipped programme rewards enrolled members).

Timed, side by side in one run:

1. (``--readers``) the SQLite -> Arrow read of the transactions (sqlite3 ``fetchmany``, and
   ADBC if the ``adbc-driver-sqlite`` package is installed), the snapshot's reader choice;
2. a cold refresh (no snapshot, no metrics, no stages yet), every step as the refresh
   reports it (snapshot, summary, features, holdout, models, at risk, store, defection,
   relationships, offers, loyalty, playbooks), with the relationship engine's own timings;
3. ``--change`` (2 %) more orders for random customers in the last 30 days, then a warm
   refresh of the same as-of (snapshot appended, the as-of block replaced, stages moved);
4. the reference: one hand-written DuckDB GROUP BY computing the same daily summary over
   the same rows held in memory. The headline is each refresh's total over it (targets:
   cold <= 20x, warm <= 12x), so figures compare across machines.

Usage: .venv/bin/python benchmarks/refresh.py [--quick] [--customers N] [--transactions N]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sqlite3
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
RESULTS = ROOT / "results"
AS_OF = date(2024, 6, 30)
HISTORY_DAYS = 3 * 365
CHUNK = 500_000


def _timestamps(micros: np.ndarray) -> list[str]:
    """SQLAlchemy's SQLite text format for UTC datetimes, formatted by Arrow."""
    text: list[str] = pa.array(micros, pa.int64()).cast(pa.timestamp("us")).cast(
        pa.string()).to_pylist()
    return text


def generate(path: Path, *, customers: int, transactions: int, seed: int) -> float:
    """Create and fill the store; returns seconds. Secondary indexes are built after."""
    from kithkin.database.core import build_engine
    from kithkin.database.manage import upgrade

    started = time.perf_counter()
    path.unlink(missing_ok=True)
    engine = build_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    rng = np.random.default_rng(seed)
    end = int(datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC).timestamp()) * 10**6
    start = end - HISTORY_DAYS * 86400 * 10**6
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("DROP INDEX IF EXISTS ix_transaction_customer_time")
    now = _timestamps(np.array([end]))[0]
    # Buy-till-you-die: each customer is born (acquired), buys at a gamma-distributed
    # rate while alive and drops out after an exponential lifetime (mean 500 days).
    born = rng.integers(start, end - 30 * 86400 * 10**6, customers)
    alive_until = np.minimum(born + (rng.exponential(500, customers) * 86400 * 10**6)
                             .astype(np.int64), end)
    acquired = _timestamps(born)
    conn.executemany(
        "INSERT INTO customer (id, acquired_at, created_at, updated_at) VALUES (?, ?, ?, ?)",
        ((i + 1, acquired[i], now, now) for i in range(customers)))
    weight = rng.gamma(0.8, 1.0, customers) * (alive_until - born + 86400 * 10**6)
    owners = rng.choice(customers, size=transactions, p=weight / weight.sum())
    times = born[owners] + (rng.random(transactions) * (alive_until - born)[owners]).astype(
        np.int64)
    order = np.argsort(times, kind="stable")
    owners, times = owners[order] + 1, times[order]
    amounts = np.round(rng.lognormal(3.5, 0.7, transactions), 2)
    amounts[rng.random(transactions) < 0.01] *= -1  # refunds
    costs = np.round(amounts * rng.uniform(0.55, 0.7, transactions), 2)
    discounts = np.where(rng.random(transactions) < 0.1, np.round(amounts * 0.1, 2), 0.0)
    sql = ("INSERT INTO \"transaction\" (id, source, order_id, customer_id, ordered_at, "
           "amount, cost, discount, created_at) VALUES (?, 'bench', ?, ?, ?, ?, ?, ?, ?)")
    for lo in range(0, transactions, CHUNK):
        hi = min(lo + CHUNK, transactions)
        ids = range(lo + 1, hi + 1)
        conn.executemany(sql, zip(ids, (f"o{i:09d}" for i in ids), owners[lo:hi].tolist(),
                                  _timestamps(times[lo:hi]), amounts[lo:hi].tolist(),
                                  costs[lo:hi].tolist(), discounts[lo:hi].tolist(),
                                  (now for _ in ids), strict=False))
        conn.commit()
        print(f"  {hi:,} transactions", file=sys.stderr)
    conn.execute("CREATE INDEX ix_transaction_customer_time ON \"transaction\" "
                  "(customer_id, ordered_at)")
    conn.commit()
    conn.close()
    return time.perf_counter() - started


def read_sqlite3(path: Path, out: Path) -> tuple[float, int]:
    """Transactions -> Parquet through the stdlib sqlite3 module (fetchmany)."""
    from kithkin.analytics import snapshot

    spec = next(s for s in snapshot.SPECS if s.name == "transactions")
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    rows, _ = snapshot._write_part(snapshot._dbapi_batches(conn, spec, 0), spec, out, 0)
    conn.close()
    return time.perf_counter() - started, rows


def read_adbc(path: Path, out: Path) -> tuple[float, int] | None:
    """The same through ADBC in a child process (what the snapshot uses for big copies)."""
    try:
        import adbc_driver_sqlite  # noqa: F401
    except ImportError:
        return None
    from kithkin.analytics import snapshot

    spec = next(s for s in snapshot.SPECS if s.name == "transactions")
    started = time.perf_counter()
    (rows,) = snapshot._adbc_copy_in_children(str(path), spec, [(0, None, out)])
    return time.perf_counter() - started, rows


def enrol(path: Path, *, share: float, customers: int, seed: int) -> int:
    """Loyalty memberships for ``share`` of the customers (the shipped programme rewards
    enrolled members), joined at a random time in the three years, 10 % since ended."""
    if share <= 0:
        return 0
    rng = np.random.default_rng(seed + 2)
    members = np.sort(rng.choice(np.arange(1, customers + 1), int(customers * share),
                                 replace=False))
    end = int(datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC).timestamp()) * 10**6
    start = end - HISTORY_DAYS * 86400 * 10**6
    joined = rng.integers(start, end, len(members))
    ended = np.where(rng.random(len(members)) < 0.1,
                     np.minimum(joined + 180 * 86400 * 10**6, end), 0)
    now = _timestamps(np.array([end]))[0]
    ended_text = [None if e == 0 else t for e, t in zip(ended, _timestamps(ended), strict=True)]
    conn = sqlite3.connect(path)
    conn.executemany(
        "INSERT INTO membership (source, external_id, customer_id, kind, programme, "
        "started_at, ended_at, created_at, updated_at) "
        "VALUES ('bench', ?, ?, 'loyalty', 'kithkin rewards', ?, ?, ?, ?)",
        zip((f"m{c}" for c in members.tolist()), members.tolist(), _timestamps(joined),
            ended_text, (now for _ in members), (now for _ in members), strict=False))
    conn.commit()
    conn.close()
    return len(members)


def add_orders(path: Path, *, share: float, customers: int, seed: int) -> int:
    """Append ``share`` x the stored orders, for random customers in the last 30 days
    before the as-of date (what a day or two of new business looks like to a refresh)."""
    rng = np.random.default_rng(seed + 1)
    conn = sqlite3.connect(path)
    first_id, count = conn.execute('SELECT max(id) + 1, count(*) FROM "transaction"').fetchone()
    added = int(count * share)
    end = int(datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC).timestamp()) * 10**6
    times = np.sort(end - rng.integers(0, 30 * 86400 * 10**6, added))
    owners = rng.integers(1, customers + 1, added)
    amounts = np.round(rng.lognormal(3.5, 0.7, added), 2)
    now = _timestamps(np.array([end]))[0]
    ids = range(first_id, first_id + added)
    conn.executemany(
        "INSERT INTO \"transaction\" (id, source, order_id, customer_id, ordered_at, amount, "
        "cost, discount, created_at) VALUES (?, 'bench', ?, ?, ?, ?, ?, 0, ?)",
        zip(ids, (f"n{i:09d}" for i in ids), owners.tolist(), _timestamps(times),
            amounts.tolist(), np.round(amounts * 0.6, 2).tolist(), (now for _ in ids),
            strict=False))
    conn.commit()
    conn.close()
    return added


def size_arguments(parser: argparse.ArgumentParser) -> None:
    """The sizes and seed naming the cached store, for the step harnesses."""
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=7)


def cached_name(args: argparse.Namespace) -> str:
    """The cached store of these sizes (the refresh and every step harness share it); the
    version changes with the schema, since a cached store is not migrated."""
    return f"refresh-v4-{args.customers}-{args.transactions}-{args.seed}"


def work_paths(args: argparse.Namespace, prefix: str) -> tuple[Path, Path, Path]:
    """A step harness's work store, home and saved inputs (a pickle) for these sizes."""
    base = DATA / f"{prefix}-{args.customers}-{args.transactions}-{args.seed}"
    return (base.with_suffix(".db"), base.with_name(base.name + "-home"),
            base.with_suffix(".pickle"))


def cpu_seconds() -> float:
    """CPU seconds of this process (every thread: DuckDB's too) and its finished children
    (the ADBC stages): on a shared machine a steadier figure than wall time."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                          resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def append_result(name: str, text: str, *, header: str) -> None:
    """Add a step harness's run to ``results/<name>``, under ``header`` when the file is
    new (the harnesses keep a log of labelled runs, before and after a change)."""
    path = RESULTS / name
    with path.open("a") as handle:
        handle.write(("" if path.stat().st_size else header) + text + "\n")


def fresh_copy(args: argparse.Namespace, store: Path, home: Path, *,
               members: float = 0.3) -> int:
    """A step harness's work copy of the cached store (generated when missing) with an
    empty home and ``members`` of the customers enrolled; returns how many are."""
    cached = DATA / f"{cached_name(args)}.db"
    if not cached.exists():
        generate(cached, customers=args.customers, transactions=args.transactions,
                 seed=args.seed)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    for stale in (Path(f"{store}-wal"), Path(f"{store}-shm")):  # would replay into the copy
        stale.unlink(missing_ok=True)
    shutil.copyfile(cached, store)
    return enrol(store, share=members, customers=args.customers, seed=args.seed)


def open_store(home: Path, path: Path) -> tuple[Any, Any]:
    """The settings and store engine of a work copy at ``path`` with its home."""
    from kithkin.config import Settings
    from kithkin.database.core import build_engine

    settings = Settings(home=home, database_url=f"sqlite:///{path}")
    return settings, build_engine(settings.resolved_database_url)


def refresh_once(home: Path, path: Path, options: Any = None
                 ) -> tuple[float, dict[str, float], Any]:
    """``kithkin refresh`` of the store at ``path``; ``options``: its ModelOptions."""
    from kithkin.analytics import refresh

    settings, engine = open_store(home, path)
    started = time.perf_counter()
    result = refresh.run(settings=settings, as_of=AS_OF, store_engine=engine,
                         options=options)
    engine.dispose()
    return time.perf_counter() - started, result.timings, result


HAND_WRITTEN_SUMMARY = """
WITH days AS (
    SELECT customer_id, CAST(floor(epoch(ordered_at) / 86400) AS BIGINT) AS day,
           sum(amount) AS value
    FROM t WHERE amount > 0 AND epoch(ordered_at) < {end_epoch}
    GROUP BY 1, 2
)
SELECT customer_id,
       count(*) - 1 AS frequency,
       max(day) - min(day) AS recency,
       {end_day} - min(day) AS T,
       CASE WHEN count(*) > 1
            THEN (sum(value) - arg_min(value, day)) / (count(*) - 1) ELSE 0 END
           AS monetary_value
FROM days GROUP BY 1
"""


def hand_written(home: Path) -> tuple[float, int]:
    from kithkin.analytics.periods import day_of

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet("
                f"'{home / 'snapshots' / 'transactions' / '*.parquet'}')")
    end_day = day_of(AS_OF)
    sql = HAND_WRITTEN_SUMMARY.format(end_epoch=(end_day + 1) * 86400, end_day=end_day)
    started = time.perf_counter()
    rows = int(con.execute(sql).to_arrow_table().num_rows)  # type: ignore[union-attr]
    return time.perf_counter() - started, rows


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{platform.platform()}, Python {platform.python_version()}, "
            f"nproc {os.cpu_count()}, load average {load}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="20k customers, 200k orders")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--change", type=float, default=0.02,
                        help="orders added before the warm refresh, as a share of the stored")
    parser.add_argument("--members", type=float, default=0.3,
                        help="share of customers enrolled in the loyalty programme")
    parser.add_argument("--readers", action="store_true",
                        help="also time the sqlite3 and ADBC reads of the transactions")
    parser.add_argument("--regenerate", action="store_true", help="ignore the cached store")
    args = parser.parse_args()
    if args.quick:
        args.customers, args.transactions = 20_000, 200_000
    DATA.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = cached_name(args)
    cached, home = DATA / f"{name}.db", DATA / f"{name}-home"
    path = DATA / f"{name}-work.db"
    load_before = machine()

    generated = None
    if args.regenerate or not cached.exists():
        print(f"generating {cached.name} ...", file=sys.stderr)
        generated = generate(cached, customers=args.customers,
                             transactions=args.transactions, seed=args.seed)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    shutil.copyfile(cached, path)
    enrolled = enrol(path, share=args.members, customers=args.customers, seed=args.seed)

    rows = args.transactions
    readers: list[tuple[str, float]] = []
    if args.readers:
        sqlite3_seconds, rows = read_sqlite3(path, home / "sqlite3.parquet")
        readers.append(("sqlite3 fetchmany", sqlite3_seconds))
        adbc = read_adbc(path, home / "adbc.parquet")
        if adbc is not None:
            readers.append(("ADBC (child process)", adbc[0]))
        print(f"read: {readers}", file=sys.stderr)
    cold_total, cold, cold_result = refresh_once(home, path)
    print(f"cold refresh {cold_total:.1f}s {cold}", file=sys.stderr)
    added = add_orders(path, share=args.change, customers=args.customers, seed=args.seed)
    warm_total, warm, warm_result = refresh_once(home, path)
    print(f"warm refresh {warm_total:.1f}s {warm}", file=sys.stderr)
    hand_seconds, hand_rows = hand_written(home)
    print(f"hand-written GROUP BY {hand_seconds:.2f}s", file=sys.stderr)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    path.unlink()

    def rate(seconds: float) -> str:
        return f"{rows / seconds:,.0f}" if seconds > 0 else "-"

    cold_ratio, warm_ratio = cold_total / hand_seconds, warm_total / hand_seconds
    lines = [
        "# Benchmark: the whole `kithkin refresh` (SQLite store + DuckDB)",
        "",
        f"Command: `.venv/bin/python benchmarks/refresh.py"
        f"{' --quick' if args.quick else ''}{' --readers' if args.readers else ''}`",
        "",
        f"**Whole refresh, every step: cold {cold_total:.1f} s = {cold_ratio:.1f}x, warm "
        f"{warm_total:.1f} s = {warm_ratio:.1f}x the hand-written DuckDB GROUP BY summary "
        f"timed in the same run ({hand_seconds:.2f} s)** (targets: cold <= 20x, warm <= 12x; "
        f"{'met' if cold_ratio <= 20 and warm_ratio <= 12 else 'NOT met'}).",
        "",
        f"- machine: {machine()} (before the run: {load_before.rsplit('load', 1)[1]})",
        f"- sizes: {args.customers:,} customers, {rows:,} transactions, as of {AS_OF}; "
        f"{enrolled:,} customers enrolled in the loyalty programme (the shipped programme "
        f"rewards enrolled members); {added:,} orders added before the warm refresh",
        f"- metrics stored: {cold_result.customers:,} customers; model error: "
        f"{cold_result.model_error or 'none'}; purchase model chosen: "
        f"{cold_result.model_params.get('model_choice', {}).get('chosen')}",
        f"- loyalty (cold, warm): {cold_result.loyalty}, {warm_result.loyalty}",
        f"- store generation: {f'{generated:.1f} s' if generated else 'cached'}",
        f"- peak RSS: {peak_mb:,.0f} MiB",
        "",
        "| measurement | seconds | transactions/s |",
        "|---|---:|---:|",
    ]
    for reader, seconds in readers:
        lines.append(f"| snapshot read: transactions SQLite -> Parquet, {reader} | "
                     f"{seconds:.2f} | {rate(seconds)} |")
    for label, timings, total in (("cold", cold, cold_total), ("warm", warm, warm_total)):
        for step, seconds in timings.items():
            lines.append(f"| {label} refresh: {step} | {seconds:.2f} | {rate(seconds)} |")
        lines.append(f"| **{label} refresh: total** | **{total:.2f}** | {rate(total)} |")
    summary_step = warm["summary"]
    lines += [
        f"| hand-written DuckDB GROUP BY summary (in memory, {hand_rows:,} rows) | "
        f"{hand_seconds:.2f} | {rate(hand_seconds)} |",
        "",
        "The totals are wall time. The store and defection steps land in a writer thread "
        "while the relationship engine computes, so the steps add up to more than the "
        "total; the relationships step includes its wait for that landing ('waited' below).",
        "",
        f"Summary step / hand-written GROUP BY: **{summary_step / hand_seconds:.1f}x** "
        "(target <= 3x).",
        "",
    ]
    for label, result in (("cold", cold_result), ("warm", warm_result)):
        report = result.relationships
        moves = ({m.model: (m.new, m.moved_up, m.moved_down) for m in report.models}
                 if report else {})
        lines += [
            f"- {label}: relationship steps {report.timings if report else None}; "
            f"(new, up, down) per model {moves}; defection {result.defection}; "
            f"offers {result.offers}; playbooks "
            f"{result.playbooks_error or (result.playbooks and result.playbooks.totals)}",
        ]
    lines.append("")
    out = RESULTS / "refresh.md"
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
