"""Import throughput: transactions CSV into SQLite and PostgreSQL, rows/s and peak memory.

Generates (and caches in benchmarks/data/) a transactions CSV and the customers it
references, then imports them with ``kithkin.imports.ingest.ingest_file`` into a fresh SQLite
file and a fresh PostgreSQL database (created and dropped here). Each import runs in its
own subprocess so its peak RSS is its own; a small and a large file show that memory
stays flat as the file grows.

    .venv/bin/python benchmarks/import_throughput.py            # 1M and 10M rows
    .venv/bin/python benchmarks/import_throughput.py --quick    # 20k and 200k rows
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
RESULTS = ROOT / "results"
PG_ADMIN = os.environ.get("KITHKIN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def generate(rows: int, customers: int) -> tuple[Path, Path]:
    """Write (once) customers and transactions CSVs in 1M-row chunks: flat memory here too."""
    DATA.mkdir(parents=True, exist_ok=True)
    customer_file = DATA / f"customers_{customers}.csv"
    orders_file = DATA / f"transactions_{rows}_{customers}.csv"
    if not customer_file.exists():
        ids = np.arange(1, customers + 1)
        table = pa.table({
            "source": pa.array(["shop"] * customers),
            "external_id": pa.array([f"C{i:08d}" for i in ids]),
            "first_name": pa.array([f"First{i % 997}" for i in ids]),
            "email": pa.array([f"customer{i}@example.com" for i in ids]),
        })
        pa_csv.write_csv(table, customer_file)
    if not orders_file.exists():
        rng = np.random.default_rng(7)
        partial = orders_file.with_suffix(".part")
        start_epoch = 1_640_995_200  # 2022-01-01
        with pa_csv.CSVWriter(partial, pa.schema([
            ("source", pa.string()), ("order_id", pa.string()),
            ("customer_external_id", pa.string()), ("ordered_at", pa.string()),
            ("amount", pa.string()), ("currency", pa.string()), ("channel", pa.string()),
        ])) as writer:
            for first in range(0, rows, 1_000_000):
                n = min(1_000_000, rows - first)
                numbers = np.arange(first, first + n)
                customer = rng.integers(1, customers + 1, n)
                stamps = start_epoch + rng.integers(0, 3 * 365 * 86400, n)
                ordered = pa.compute.strftime(
                    pa.array(stamps * 1_000_000, pa.timestamp("us", tz="UTC")),
                    format="%Y-%m-%dT%H:%M:%SZ")
                amount = np.round(rng.gamma(2.0, 30.0, n), 2)
                writer.write_table(pa.table({
                    "source": pa.array(["shop"] * n),
                    "order_id": pa.array(np.char.add("O", np.char.zfill(numbers.astype(str), 9))),
                    "customer_external_id": pa.array(
                        np.char.add("C", np.char.zfill(customer.astype(str), 8))),
                    "ordered_at": ordered,
                    "amount": pa.array(amount.astype(str)),
                    "currency": pa.array(["EUR"] * n),
                    "channel": pa.array(np.where(numbers % 3 == 0, "web", "store")),
                }))
        partial.rename(orders_file)
    return customer_file, orders_file


def run_import(url: str, kind: str, path: Path) -> dict[str, float]:
    """Import in a fresh interpreter; return its report numbers and peak RSS."""
    code = (
        "import json, os, resource, sys, time\n"
        "from kithkin.database.core import build_engine\n"
        "from kithkin.imports.ingest import ingest_file\n"
        "engine = build_engine(sys.argv[1])\n"
        "started, cpu0 = time.perf_counter(), sum(os.times()[:2])\n"
        "report = ingest_file(kind=sys.argv[2], path=sys.argv[3], engine=engine)\n"
        "elapsed = time.perf_counter() - started\n"
        "cpu = sum(os.times()[:2]) - cpu0\n"
        "print(json.dumps({'rows': report.rows_read, 'written': report.rows_written,\n"
        "  'bulk': report.bulk,\n"
        "  'rejected': report.rows_rejected, 'seconds': elapsed, 'cpu_seconds': cpu,\n"
        "  'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, url, kind, str(path)],
                          check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def migrate(url: str) -> None:
    from kithkin.database.core import build_engine
    from kithkin.database.manage import upgrade

    engine = build_engine(url)
    upgrade(engine)
    engine.dispose()


class SQLiteStore:
    """A migrated SQLite file holding the customers; each case imports into a copy of it."""

    name = "SQLite"

    def __init__(self, workdir: Path, customers: Path) -> None:
        self.workdir = workdir
        self.base = workdir / "base.db"
        migrate(f"sqlite:///{self.base}")
        self.customers = run_import(f"sqlite:///{self.base}", "customers", customers)

    def transactions(self, orders: Path) -> dict[str, float]:
        target = self.workdir / f"case-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(self.base, target)
        try:
            return run_import(f"sqlite:///{target}", "transactions", orders)
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        pass


class PostgresStore:
    """A fresh database holding the customers; each case imports into a copy (TEMPLATE)."""

    name = "PostgreSQL"

    def __init__(self, customers: Path) -> None:
        from sqlalchemy import create_engine

        self.admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        self.base = f"kithkin_bench_{uuid.uuid4().hex[:10]}"
        self.created = [self.base]
        self._sql(f'CREATE DATABASE "{self.base}"')
        migrate(self._url(self.base))
        self.customers = run_import(self._url(self.base), "customers", customers)

    def _url(self, name: str) -> str:
        return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"

    def _sql(self, statement: str) -> None:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(statement))

    def transactions(self, orders: Path) -> dict[str, float]:
        name = f"{self.base}_{len(self.created)}"
        self._sql(f'CREATE DATABASE "{name}" TEMPLATE "{self.base}"')
        self.created.append(name)
        try:
            return run_import(self._url(name), "transactions", orders)
        finally:
            self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        for name in self.created:
            self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.dispose()


def _row(store: str, label: str, rows: int, result: dict[str, float]) -> str:
    rate = result["rows"] / result["seconds"]
    cpu_rate = result["rows"] / result["cpu_seconds"]
    mode = "bulk" if result.get("bulk") else "per batch"
    return (f"| {store} | {label} | {mode} | {rows:,} | {result['seconds']:.1f} | {rate:,.0f} "
            f"| {result['cpu_seconds']:.1f} | {cpu_rate:,.0f} | {result['peak_rss_mb']:.0f} "
            f"| {int(result['rejected'])} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="large file rows")
    parser.add_argument("--small-rows", type=int, default=1_000_000, help="small file rows")
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="20k / 200k rows, 5k customers")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.small_rows, args.customers = 200_000, 20_000, 5_000
    load_before = os.getloadavg()
    customers, large = generate(args.rows, args.customers)
    _, small = generate(args.small_rows, args.customers)
    lines: list[str] = []
    customer_lines: list[str] = []
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        stores: list[SQLiteStore | PostgresStore] = (
            [] if args.no_sqlite else [SQLiteStore(Path(tmp), customers)])
        if not args.no_postgres:
            stores.append(PostgresStore(customers))
        try:
            for store in stores:
                customer_lines.append(_row(store.name, "customers", args.customers,
                                           store.customers))
                for label, path, rows in (("transactions", small, args.small_rows),
                                          ("transactions", large, args.rows)):
                    lines.append(_row(store.name, label, rows, store.transactions(path)))
                    print(lines[-1], flush=True)
        finally:
            for store in stores:
                store.close()
    load_after = os.getloadavg()
    header = ("| store | file | mode | rows | wall s | rows/s (wall) | CPU s | rows per CPU-s "
              "| peak RSS (MB) | rejected |")
    report = "\n".join([
        "# Import throughput (transactions CSV)",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by "
        f"`{' '.join(['.venv/bin/python', 'benchmarks/import_throughput.py', *sys.argv[1:]])}`.",
        "",
        f"- machine: {platform.machine()}, nproc {os.cpu_count()}, "
        f"Python {platform.python_version()}, {platform.platform()}",
        f"- load average before: {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.2f}' for x in load_after)} (other engineers share the "
        "2 cores: wall-clock rates are lower bounds)",
        "- each import runs in its own subprocess into a store that already holds the "
        f"{args.customers:,} customers (SQLite: a copy of the file; PostgreSQL: CREATE "
        "DATABASE ... TEMPLATE); peak RSS is that process's `ru_maxrss`",
        "- rows/s = rows read / wall-clock seconds of `ingest_file` (hashing, parsing, "
        "commits included); CPU s = user + system time of the importing process (both "
        "threads; PostgreSQL's server work is not in it)",
        "",
        header,
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
        *lines,
        "",
        "Customers (Python matching path, same stores):",
        "",
        header,
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
        *customer_lines,
        "",
    ])
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / ("import_throughput_quick.md" if args.quick else "import_throughput.md")
    if args.no_sqlite or args.no_postgres:  # one store: keep the other store's last figures
        target = target.with_name(target.stem + ("_sqlite" if args.no_postgres else
                                                 "_postgresql") + ".md")
    target.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
