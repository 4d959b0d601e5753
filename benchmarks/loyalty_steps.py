"""The refresh's loyalty step alone, on benchmarks/refresh.py's store.

``prepare`` copies the cached store of benchmarks/refresh.py, enrols the members as it
does and takes the snapshot the refresh would (nothing before the loyalty step touches
the ledger or the tables it reads), keeping both under benchmarks/data/. ``time`` copies
them and runs the refresh's loyalty step (:func:`kithkin.analytics.refresh.grant_points`,
its session and commit included) as benchmarks/refresh.py's runs see it:

1. cold: a first grant into an empty ledger;
2. warm: ``--change`` (2 %) more orders added in the last 30 days, the snapshot brought
   up to date (not timed), the same as-of granted again;
3. rerun: the same as-of once more, nothing new (a re-run must write nothing).

After each it prints the ledger's totals per kind (entries, points, order ids,
customer ids, reason lengths), so two versions of the code can be held to the same
ledger. Usage:

    flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/loyalty_steps.py prepare
    flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/loyalty_steps.py time \
        [--label NAME] [--profile]
    flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/loyalty_steps.py inserts

``inserts`` times what the cold grant's insert costs and why: the earn and bonus entries
a first grant lands (computed on the prepared snapshot as the grant does) are put in a
temporary table of a copy of the prepared store, then inserted into the ledger as the
grant's plan does (``INSERT ... SELECT ... ON CONFLICT DO NOTHING``, the customer/time
index deferred, a 1 GiB page cache) in variants: as the schema is; foreign keys not
enforced; a compact integer source key (a copy of the table with ``INTEGER UNIQUE``
instead of the text key); rows in order id order instead of key order. SQLite's CPU
seconds of each (this process: the statements run in it).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

import refresh as bench  # noqa: E402

from kithkin.analytics import engine as analytics_engine  # noqa: E402
from kithkin.analytics import refresh  # noqa: E402
from kithkin.config import Settings  # noqa: E402

LEDGER_TOTALS = ("SELECT kind, count(*), sum(points), sum(transaction_id), sum(customer_id), "
                 "sum(length(reason)), sum(length(source_key)) FROM loyalty_entry "
                 "GROUP BY kind ORDER BY kind")




def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())




def prepare(args: argparse.Namespace) -> None:
    store, home, _ = bench.work_paths(args, "loyalty")
    enrolled = bench.fresh_copy(args, store, home, members=args.members)
    settings, engine = bench.open_store(home, store)
    analytics_engine.connect(settings, store=engine)
    engine.dispose()
    print(f"prepared {store} ({enrolled:,} members) and its snapshot in {home}")


def remove(store: Path) -> None:
    for path in (store, Path(f"{store}-wal"), Path(f"{store}-shm")):
        path.unlink(missing_ok=True)


def totals(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return [tuple(row) for row in conn.execute(LEDGER_TOTALS)]


def run_steps(args: argparse.Namespace) -> None:
    store, home, _ = bench.work_paths(args, "loyalty")
    work, work_home = store.with_name(store.stem + "-work.db"), home.with_name(
        home.name + "-work")
    remove(work)  # a -wal left by an earlier copy would be replayed into this one
    shutil.copyfile(store, work)
    shutil.rmtree(work_home, ignore_errors=True)
    shutil.copytree(home, work_home)
    settings, engine = bench.open_store(work_home, work)
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                            capture_output=True, text=True, check=False).stdout.strip()
    lines = [f"## {args.label}", "", f"- code: {commit}; load average before: {load()}", "",
             "| run | seconds | CPU seconds | load average after | result |",
             "|---|---:|---:|---|---|"]
    checks = []
    try:
        source = analytics_engine.open_duckdb(settings.snapshot_dir)
        for label in ("cold", "warm", "rerun"):
            if label == "warm":
                added = bench.add_orders(work, share=args.change, customers=args.customers,
                                         seed=args.seed)
                print(f"added {added:,} orders", file=sys.stderr)
                source = analytics_engine.connect(settings, store=engine)
            result = refresh.RefreshResult(as_of=bench.AS_OF, engine="duckdb")
            profiler = cProfile.Profile() if args.profile else None
            started, used = time.perf_counter(), bench.cpu_seconds()
            if profiler is not None:
                profiler.enable()
            refresh.grant_points(engine=engine, settings=settings, source=source,
                                 result=result)
            if profiler is not None:
                profiler.disable()
            seconds, used = time.perf_counter() - started, bench.cpu_seconds() - used
            lines.append(f"| {label} | {seconds:.2f} | {used:.2f} | {load()} | "
                         f"{result.loyalty} |")
            print(lines[-1], flush=True)
            if profiler is not None:
                pstats.Stats(profiler, stream=sys.stderr).sort_stats(
                    "cumulative").print_stats(45)
            checks.append((label, totals(work)))
    finally:
        engine.dispose()
        if not args.keep:
            remove(work)
            shutil.rmtree(work_home, ignore_errors=True)
    lines += ["", "Ledger after each run (kind, entries, points, sum of order ids, "
              "sum of customer ids, reason characters, key characters):", ""]
    lines += [f"- {label}: {rows}" for label, rows in checks]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        bench.append_result("loyalty_steps.md", text, header=(
            "# The refresh's loyalty step alone (benchmarks/loyalty_steps.py)\n\n"
            f"Store: benchmarks/refresh.py's {args.customers:,} customers, "
            f"{args.transactions:,} orders, {args.members:.0%} enrolled, as of "
            f"{bench.AS_OF}; warm: {args.change:.0%} more orders. SQLite store + DuckDB; "
            "each run is `refresh.grant_points` (its session and commit included).\n\n"))


INSERT_VARIANTS = {
    "as the schema is (foreign keys on, text key, key order)": {},
    "foreign keys not enforced": {"foreign_keys": False},
    "integer source key (order id * 2 + bonus)": {"integer_key": True},
    "integer source key, foreign keys not enforced": {"integer_key": True,
                                                       "foreign_keys": False},
    "rows in order id order": {"order": "transaction_id, kind"},
    "foreign keys not enforced, then checked set-wise (order ids ascending)": {
        "foreign_keys": False, "check": True},
    "as the schema is, then the customer/time index built (the grant's deferral)": {
        "index": "rebuilt"},
    "as the schema is, customer/time index kept during the insert": {"index": "kept"},
    "customer/time order, customer/time index kept during the insert": {
        "index": "kept", "order": "customer_id, occurred_at"},
}
# The references of the rows just inserted (ids above the ledger's largest before the
# insert), each parent probed once and in id order: what a grant that lands with the
# checks off would run before its commit.
REFERENCE_CHECK = (
    "SELECT (SELECT count(*) FROM (SELECT DISTINCT customer_id AS id FROM loyalty_entry "
    "WHERE id > {after}) AS n WHERE NOT EXISTS (SELECT 1 FROM customer WHERE customer.id = "
    "n.id)) + (SELECT count(*) FROM (SELECT DISTINCT transaction_id AS id FROM loyalty_entry "
    "WHERE id > {after} AND transaction_id IS NOT NULL) AS n WHERE NOT EXISTS (SELECT 1 FROM "
    '"transaction" WHERE "transaction".id = n.id))')
ENTRY_COLUMNS = ("customer_id, kind, points, source_key, transaction_id, occurred_at, "
                 "reason, user_id, created_at")


def insert_variant(args: argparse.Namespace, entries: Path, *, foreign_keys: bool = True,
                   integer_key: bool = False, order: str = "source_key",
                   check: bool = False, index: str = "dropped") -> tuple[int, float]:
    """One insert of the staged entries into a fresh copy of the prepared store; returns
    (rows, CPU seconds of the statement and its commit)."""
    store, _, _ = bench.work_paths(args, "loyalty")
    work = store.with_name(store.stem + "-inserts.db")
    remove(work)
    shutil.copyfile(store, work)
    try:
        conn = sqlite3.connect(work, isolation_level=None)
        conn.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -1048576")  # the plan's bulk page cache
        conn.execute(f"ATTACH '{entries}' AS e")
        conn.execute(f"CREATE TEMP TABLE stage AS SELECT {ENTRY_COLUMNS} FROM e.entries "
                     f"ORDER BY {order}")
        conn.execute("DETACH e")
        if index != "kept":  # deferred by the grant
            conn.execute("DROP INDEX ix_loyalty_entry_customer_time")
        target, columns = "loyalty_entry", ENTRY_COLUMNS
        select_list = ENTRY_COLUMNS
        if integer_key:
            conn.execute(
                "CREATE TABLE entry_int (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL "
                "REFERENCES customer (id) ON DELETE CASCADE, kind VARCHAR(16) NOT NULL, "
                "points BIGINT NOT NULL, source_key INTEGER NOT NULL UNIQUE, transaction_id "
                "INTEGER REFERENCES \"transaction\" (id) ON DELETE SET NULL, occurred_at "
                "DATETIME NOT NULL, reason VARCHAR(400), user_id INTEGER REFERENCES "
                "staff_user (id) ON DELETE SET NULL, created_at DATETIME NOT NULL)")
            target = "entry_int"
            select_list = ENTRY_COLUMNS.replace(
                "source_key", "transaction_id * 2 + (kind = 'bonus')")
        rows = conn.execute("SELECT count(*) FROM stage").fetchone()[0]
        used = time.process_time()
        conn.execute("BEGIN")
        after = conn.execute(f"SELECT coalesce(max(id), 0) FROM {target}").fetchone()[0]
        conn.execute(f"INSERT INTO {target} ({columns}) SELECT {select_list} FROM stage "
                     "WHERE true ON CONFLICT DO NOTHING")
        if index == "rebuilt":
            conn.execute("CREATE INDEX ix_loyalty_entry_customer_time ON loyalty_entry "
                         "(customer_id, occurred_at)")
        if check:
            missing = conn.execute(REFERENCE_CHECK.format(after=int(after))).fetchone()[0]
            assert missing == 0, missing
        conn.execute("COMMIT")
        used = time.process_time() - used
        conn.close()
    finally:
        remove(work)
    return rows, used


def inserts(args: argparse.Namespace) -> None:
    from datetime import UTC, datetime
    from datetime import time as day_time

    import pyarrow as pa
    import pyarrow.compute as pc

    from kithkin.loyalty import earning, ledger
    from kithkin.loyalty import programme as loyalty_programme

    store, home, _ = bench.work_paths(args, "loyalty")
    settings = Settings(home=home, database_url=f"sqlite:///{store}")
    programme = loyalty_programme.load(home)
    until = datetime.combine(bench.AS_OF, day_time.max, tzinfo=UTC)
    source = analytics_engine.open_duckdb(settings.snapshot_dir)
    computed = earning.entries(source, programme, until=until,
                               earliest=ledger.cutoff(programme, bench.AS_OF))
    kinds = pa.array(list(earning.PREFIX), pa.string())
    prefixes = pa.array(list(earning.PREFIX.values()), pa.string()).take(
        pc.index_in(computed["kind"], value_set=kinds))
    keyed = computed.append_column("source_key", pc.binary_join_element_wise(
        prefixes, pc.cast(computed["transaction_id"], pa.string()), ""))
    entries = store.with_name(store.stem + "-entries.db")
    remove(entries)
    with sqlite3.connect(entries) as conn:
        conn.execute("CREATE TABLE entries (customer_id INTEGER, kind TEXT, points INTEGER, "
                     "source_key TEXT, transaction_id INTEGER, occurred_at TEXT, reason TEXT,"
                     " user_id INTEGER, created_at TEXT)")
        stamps = pc.strftime(keyed["occurred_at"], format="%Y-%m-%d %H:%M:%S.%f").to_pylist()
        conn.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, "
                         "'2024-06-30 00:00:00.000000')", zip(
            keyed["customer_id"].to_pylist(), keyed["kind"].to_pylist(),
            keyed["points"].to_pylist(), keyed["source_key"].to_pylist(),
            keyed["transaction_id"].to_pylist(), stamps, strict=True))
    lines = [f"## inserts: where the cold grant's insert goes ({args.label})", "",
             f"- load average before: {load()}", "",
             "| variant | rows | SQLite CPU seconds |", "|---|---:|---:|"]
    try:
        for name, options in INSERT_VARIANTS.items():
            rows, used = insert_variant(args, entries, **options)  # type: ignore[arg-type]
            lines.append(f"| {name} | {rows:,} | {used:.2f} |")
            print(lines[-1], flush=True)
    finally:
        remove(entries)
    lines.append(f"\n- load average after: {load()}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        with (bench.RESULTS / "loyalty_steps.md").open("a") as handle:
            handle.write(text + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("prepare", "time", "inserts"))
    bench.size_arguments(parser)
    parser.add_argument("--members", type=float, default=0.3)
    parser.add_argument("--change", type=float, default=0.02)
    parser.add_argument("--label", default="run")
    parser.add_argument("--profile", action="store_true", help="cProfile each grant")
    parser.add_argument("--keep", action="store_true",
                        help="keep the store and snapshot of the last run (-work)")
    parser.add_argument("--write", action="store_true",
                        help="append the figures to benchmarks/results/loyalty_steps.md")
    args = parser.parse_args()
    {"prepare": prepare, "time": run_steps, "inserts": inserts}[args.action](args)


if __name__ == "__main__":
    main()
