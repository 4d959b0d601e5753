"""Can DuckDB's sqlite/postgres scanners replace the snapshot copier (issue #10)?

The DuckDB engine reads the store through an incremental Parquet snapshot
(``kithkin.analytics.snapshot``: DB-API ``fetchmany`` or ADBC into Arrow, then Parquet).
DuckDB's ``sqlite_scanner`` and ``postgres_scanner`` extensions read those databases
themselves. They ship on PyPI (``duckdb-extension-sqlite-scanner``,
``duckdb-extension-postgres-scanner``, newest 1.5.5; ``duckdb-ext-sqlite`` 1.4.4), each
built for exactly one DuckDB version, and load offline from the installed file
(``LOAD '/path/sqlite_scanner.duckdb_extension'``). The project runs DuckDB 2.x, which
refuses them (the script records the message), so the scanner side runs in a second
interpreter with DuckDB 1.5.5 and the two extension packages
(``--scanner-python``; see the results file for how it was made).

Timed side by side on the store benchmarks/refresh.py generates (cached in
benchmarks/data/, same sizes and seed):

1. the copier, cold: every analytics table to Parquet (``snapshot.refresh``), and warm
   with nothing changed (a fingerprint per table);
2. the scanner, cold: the same columns, with the same types, from the attached store to
   Parquet by ``COPY (SELECT ...) TO``, process start and ``LOAD`` included;
3. the scanner in place: the daily BTYD summary (benchmarks/refresh.py's hand-written
   GROUP BY) over the attached store, against the same query over the copier's Parquet,
   i.e. what each query of a refresh would cost without a snapshot.

Both sides' Parquet must hold the same rows (count, sum of ids and amounts checked).
``--postgres-url`` also loads the rows into a fresh PostgreSQL database (through the
scanner, not timed) and times the same with psycopg and the postgres scanner.

Usage: flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/snapshot_scanners.py \
    --scanner-python /tmp/scanner-venv/bin/python [--quick] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import refresh as refresh_bench

from kithkin.analytics import snapshot

ROOT = Path(__file__).resolve().parent
DATA, RESULTS = ROOT / "data", ROOT / "results"
DUCKDB_TYPES = {"int64": "BIGINT", "double": "DOUBLE", "string": "VARCHAR"}

# Runs in the scanner interpreter (DuckDB 1.5.5 + extension packages): argv[1] is a JSON
# job; prints a JSON result. Kept free of kithkin imports (another environment).
CHILD = r'''
import json, sys, time
started = time.perf_counter()
import duckdb
from pathlib import Path
job = json.loads(sys.argv[1])
module = __import__(job["package"])
extension = next(Path(module.__file__).parent.rglob("*.duckdb_extension"))
con = duckdb.connect(config={"autoinstall_known_extensions": "false",
                             "autoload_known_extensions": "false"})
con.execute("SET TimeZone = 'UTC'")
con.execute("SET enable_progress_bar = false")
con.execute(f"LOAD '{extension}'")
con.execute(f"ATTACH '{job['attach']}' AS store (TYPE {job['type']}, READ_ONLY)")
out = {"duckdb": duckdb.__version__, "extension": str(extension), "tables": {}}
loaded = time.perf_counter()
for name, select in job["copies"].items():
    target = Path(job["directory"]) / name
    target.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    con.execute(f"COPY ({select}) TO '{target / 'part-00000.parquet'}' "
                "(FORMAT parquet, COMPRESSION zstd)")
    out["tables"][name] = time.perf_counter() - t
out["load_seconds"] = loaded - started
out["copy_seconds"] = time.perf_counter() - loaded
if job.get("summary"):
    con.execute("CREATE VIEW t AS " + job["summary_source"])
    t = time.perf_counter()
    out["summary_rows"] = con.execute(job["summary"]).fetchall()[0][0]
    out["summary_seconds"] = time.perf_counter() - t
print(json.dumps(out))
'''


def _derived_duckdb(column: str) -> str:
    """The copier's derived customer columns (attributes decoded from JSON) in DuckDB's
    JSON functions, which read SQLite's JSON text and PostgreSQL's json alike."""
    if column == "has_attributes":
        return "attributes IS NOT NULL"
    key, part = column.removeprefix("attr_").rsplit("_", 1)
    path = f"'$.{key}'"
    kind = f"json_type(attributes, {path})"
    if part == "text":
        return f"CASE WHEN {kind} = 'VARCHAR' THEN json_extract_string(attributes, {path}) END"
    return (f"CASE {kind} WHEN 'BOOLEAN' THEN CASE WHEN json_extract_string(attributes, "
            f"{path}) = 'true' THEN 1 ELSE 0 END "
            f"WHEN 'BIGINT' THEN CAST(json_extract_string(attributes, {path}) AS DOUBLE) "
            f"WHEN 'UBIGINT' THEN CAST(json_extract_string(attributes, {path}) AS DOUBLE) "
            f"WHEN 'DOUBLE' THEN CAST(json_extract_string(attributes, {path}) AS DOUBLE) "
            f"WHEN 'ARRAY' THEN json_array_length(attributes, {path}) "
            f"WHEN 'OBJECT' THEN len(json_keys(attributes, {path})) END")


def scanner_select(spec: snapshot.TableSpec, *, store_kind: str) -> str:
    """The copier's columns and Arrow types, as DuckDB SQL over the attached store."""
    derived = {name for name, _ in spec.derived}
    parts = []
    for column, dtype in spec.columns:
        quoted = f'"{column}"'
        if column in derived:
            value = f"CAST({_derived_duckdb(column)} AS {DUCKDB_TYPES[str(dtype)]})"
        elif dtype == snapshot.UTC_TIMESTAMP:
            # SQLite keeps UTC datetimes as text, PostgreSQL as timestamptz
            value = (f"CAST(CAST({quoted} AS TIMESTAMP) AS TIMESTAMPTZ)"
                     if store_kind == "sqlite" else f"CAST({quoted} AS TIMESTAMPTZ)")
        else:
            value = f"CAST({quoted} AS {DUCKDB_TYPES[str(dtype)]})"
        parts.append(f"{value} AS {quoted}")
    return f'SELECT {", ".join(parts)} FROM store."{spec.table}" ORDER BY id'


def run_scanner(python: str, *, store_kind: str, attach: str, directory: Path,
                summary: str | None = None) -> dict[str, Any]:
    package = ("duckdb_extension_sqlite_scanner" if store_kind == "sqlite"
               else "duckdb_extension_postgres_scanner")
    job = {
        "package": package, "attach": attach,
        "type": "sqlite" if store_kind == "sqlite" else "postgres",
        "directory": str(directory),
        "copies": {spec.name: scanner_select(spec, store_kind=store_kind)
                   for spec in snapshot.SPECS} if summary is None else {},
        "summary": summary,
        "summary_source": scanner_select(
            next(s for s in snapshot.SPECS if s.name == "transactions"),
            store_kind=store_kind).replace(" ORDER BY id", ""),
    }
    started = time.perf_counter()
    done = subprocess.run([python, "-c", CHILD, json.dumps(job)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"scanner failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - started
    return result


def copier(url: str, directory: Path) -> tuple[float, float]:
    """Cold and warm (nothing changed) ``snapshot.refresh`` of every analytics table."""
    from kithkin.database.core import build_engine

    engine = build_engine(url)
    try:
        started = time.perf_counter()
        snapshot.refresh(engine=engine, directory=directory)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        modes = {t.mode for t in snapshot.refresh(engine=engine, directory=directory)}
        warm = time.perf_counter() - started
        assert modes == {"unchanged"}, modes
    finally:
        engine.dispose()
    return cold, warm


def fingerprint(directory: Path) -> dict[str, tuple[Any, ...]]:
    """Rows, sum of ids and of the first float column per table: both copies must agree."""
    con = duckdb.connect()
    out = {}
    for spec in snapshot.SPECS:
        number = next((c for c, d in spec.columns if str(d) == "double"), "id")
        stamp = next((c for c, d in spec.columns if d == snapshot.UTC_TIMESTAMP), None)
        stamps = f", sum(epoch_us({stamp}))" if stamp else ""
        row = con.execute(
            f"SELECT count(*), sum(id), round(sum({number}), 2){stamps} FROM read_parquet("
            f"'{snapshot.parquet_glob(directory, spec.name)}')").fetchone()
        assert row is not None
        out[spec.name] = tuple(row)
    return out


def in_process_summary(directory: Path) -> tuple[float, int]:
    """The hand-written summary over the copier's Parquet (the project's DuckDB)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE VIEW t AS SELECT * FROM read_parquet("
                f"'{snapshot.parquet_glob(directory, 'transactions')}')")
    started = time.perf_counter()
    rows = con.execute(f"SELECT count(*) FROM ({summary_sql()})").fetchone()
    assert rows is not None
    return time.perf_counter() - started, int(rows[0])


def summary_sql() -> str:
    from kithkin.analytics.periods import day_of

    end_day = day_of(refresh_bench.AS_OF)
    return refresh_bench.HAND_WRITTEN_SUMMARY.format(end_epoch=(end_day + 1) * 86400,
                                                     end_day=end_day)


def project_duckdb_refuses(python: str) -> str:
    """What the project's DuckDB says to the packaged extension."""
    found = subprocess.run(
        [python, "-c", "import duckdb_extension_sqlite_scanner as m, pathlib;"
         "print(next(pathlib.Path(m.__file__).parent.rglob('*.duckdb_extension')))"],
        capture_output=True, text=True, check=True).stdout.strip()
    try:
        duckdb.connect().execute(f"LOAD '{found}'")
    except duckdb.Error as exc:
        return str(exc).split("Error: ", 1)[-1]
    return "loaded (no error)"


def load_postgres(python: str, sqlite_path: Path, url: str) -> None:
    """Fill a migrated PostgreSQL store with the SQLite store's rows (setup, not timed)."""
    from kithkin.database.core import build_engine
    from kithkin.database.manage import upgrade

    engine = build_engine(url)
    upgrade(engine)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql('SELECT count(*) FROM "transaction"').scalar_one()
    engine.dispose()
    if stored:  # filled by an earlier run of this script
        return
    script = (
        "import duckdb, sys, pathlib, duckdb_extension_sqlite_scanner as s, "
        "duckdb_extension_postgres_scanner as p\n"
        "con = duckdb.connect(config={'autoinstall_known_extensions': 'false'})\n"
        "con.execute('SET enable_progress_bar = false')\n"
        "for m in (s, p): con.execute(f\"LOAD '{next(pathlib.Path(m.__file__).parent"
        ".rglob('*.duckdb_extension'))}'\")\n"
        "con.execute(f\"ATTACH '{sys.argv[1]}' AS lite (TYPE sqlite, READ_ONLY)\")\n"
        "con.execute(f\"ATTACH '{sys.argv[2]}' AS pg (TYPE postgres)\")\n"
        "con.execute(\"SET TimeZone = 'UTC'\")\n"
        "con.execute('INSERT INTO pg.public.customer (id, acquired_at, created_at, updated_at)"
        " SELECT id, CAST(acquired_at AS TIMESTAMP), CAST(created_at AS TIMESTAMP), "
        "CAST(updated_at AS TIMESTAMP) FROM lite.customer')\n"
        "con.execute('INSERT INTO pg.public.\"transaction\" (id, source, order_id, "
        "customer_id, ordered_at, amount, cost, discount, created_at) SELECT id, source, "
        "order_id, customer_id, CAST(ordered_at AS TIMESTAMP), amount, cost, discount, "
        "CAST(created_at AS TIMESTAMP) FROM lite.\"transaction\"')\n")
    libpq = url.replace("postgresql+psycopg://", "postgresql://")
    subprocess.run([python, "-c", script, str(sqlite_path), libpq], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="20k customers, 200k orders")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scanner-python", default=os.environ.get("KITHKIN_SCANNER_PYTHON"),
                        help="an interpreter with duckdb==1.5.5 and the extension packages")
    parser.add_argument("--postgres-url", help="an empty PostgreSQL database to fill")
    args = parser.parse_args()
    if not args.scanner_python:
        raise SystemExit("--scanner-python (or KITHKIN_SCANNER_PYTHON) is required")
    if args.quick:
        args.customers, args.transactions = 20_000, 200_000
    load_before = refresh_bench.machine()
    name = refresh_bench.cached_name(args)
    cached = DATA / f"{name}.db"
    DATA.mkdir(parents=True, exist_ok=True)
    if not cached.exists():
        print(f"generating {cached.name} ...", file=sys.stderr)
        refresh_bench.generate(cached, customers=args.customers,
                               transactions=args.transactions, seed=args.seed)
    refused = project_duckdb_refuses(args.scanner_python)
    rows: list[tuple[str, str, float]] = []
    checks: list[str] = []
    stores = [("sqlite", f"sqlite:///{cached}", str(cached))]
    if args.postgres_url:
        load_postgres(args.scanner_python, cached, args.postgres_url)
        stores.append(("postgresql", args.postgres_url,
                       args.postgres_url.replace("postgresql+psycopg://", "postgresql://")))
    versions = ""
    for kind, url, attach in stores:
        with tempfile.TemporaryDirectory(dir=DATA) as work:
            copied, scanned = Path(work) / "copier", Path(work) / "scanner"
            cold, warm = copier(url, copied)
            print(f"{kind} copier cold {cold:.2f}s warm {warm:.2f}s", file=sys.stderr)
            result = run_scanner(args.scanner_python, store_kind=kind, attach=attach,
                                 directory=scanned)
            print(f"{kind} scanner {result['wall_seconds']:.2f}s", file=sys.stderr)
            versions = f"DuckDB {result['duckdb']} ({Path(result['extension']).name})"
            same = fingerprint(copied) == fingerprint(scanned)
            checks.append(f"{kind}: both snapshots hold the same rows, ids, amounts and "
                          f"timestamps: {'yes' if same else 'NO'}")
            parquet_seconds, summary_rows = in_process_summary(copied)
            direct = run_scanner(args.scanner_python, store_kind=kind, attach=attach,
                                 directory=scanned,
                                 summary=f"SELECT count(*) FROM ({summary_sql()})")
            if direct["summary_rows"] != summary_rows:
                checks.append(f"{kind}: in-place summary rows differ "
                              f"({direct['summary_rows']} vs {summary_rows})")
            rows += [
                (kind, "copier, cold: every analytics table -> Parquet "
                 "(`snapshot.refresh`)", cold),
                (kind, "copier, warm, nothing changed (fingerprints)", warm),
                (kind, "scanner, cold: the same tables -> Parquet (`COPY ... TO`), "
                 "process + LOAD included", result["wall_seconds"]),
                (kind, "  of which: start, import, LOAD, ATTACH", result["load_seconds"]),
                (kind, "summary GROUP BY over the copier's Parquet (project DuckDB)",
                 parquet_seconds),
                (kind, "summary GROUP BY over the attached store (scanner, no snapshot)",
                 direct["summary_seconds"]),
            ]
    by = {(k, label): s for k, label, s in rows}
    cold_label = rows[0][1]
    scan_label = rows[2][1]
    lines = [
        "# Benchmark: snapshot copier vs DuckDB's sqlite/postgres scanners",
        "",
        "Command: `flock /tmp/kithkin-bench.lock .venv/bin/python "
        f"benchmarks/snapshot_scanners.py --scanner-python PY"
        f"{' --quick' if args.quick else ''}{' --postgres-url URL' if args.postgres_url else ''}`",
        "",
        f"- machine: {refresh_bench.machine()} (before the run: "
        f"{load_before.rsplit('load', 1)[1]})",
        f"- sizes: {args.customers:,} customers, {args.transactions:,} transactions "
        f"(benchmarks/refresh.py's store, seed {args.seed})",
        f"- project DuckDB {duckdb.__version__}; scanner side {versions}",
        f"- the project's DuckDB on the packaged extension: \"{refused}\"",
        "",
    ]
    for kind, *_ in stores:
        ratio = by[(kind, scan_label)] / by[(kind, cold_label)]
        lines.append(f"**{kind}: scanner / copier, cold snapshot = {ratio:.2f}x** "
                     f"({by[(kind, scan_label)]:.2f} s vs {by[(kind, cold_label)]:.2f} s)")
        lines.append("")
    lines += ["| store | measurement | seconds |", "|---|---|---:|"]
    lines += [f"| {kind} | {label} | {seconds:.2f} |" for kind, label, seconds in rows]
    lines += ["", *[f"- {check}" for check in checks], ""]
    out = RESULTS / ("snapshot_scanners_quick.md" if args.quick else "snapshot_scanners.md")
    previous = out.read_text() if out.exists() else ""
    notes = previous.split("\n## Reading\n", 1)[1] if "\n## Reading\n" in previous else ""
    out.write_text("\n".join(lines) + ("\n## Reading\n" + notes if notes else ""))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
