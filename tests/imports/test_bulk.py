"""SQLite bulk-load mode: same rows, rejects and counts as per-batch commits, indexes
rebuilt, and any failure or kill leaves the store exactly as it was."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from kithkin.database.core import build_engine
from kithkin.database.manage import upgrade
from kithkin.imports.ingest import bulk, ingest_file, store
from kithkin.imports.ingest.kinds import Kind
from kithkin.imports.lease import STALE_ERROR
from kithkin.imports.schemas import ImportReport

from .helpers import TRANSACTIONS_HEADER, count, read_rejects, rows_of, seed_customers, write_csv

INDEX = "ix_transaction_customer_time"


def _orders(n: int, *, changed: int | None = None) -> list[list[str]]:
    rows: list[list[str]] = [TRANSACTIONS_HEADER]
    for i in range(n):
        customer = "ghost" if i % 97 == 5 else f"c{i % 3 + 1}"
        amount = "lots" if i % 101 == 7 else str(10 + i % 50 + (1 if i == changed else 0))
        rows.append(["shop", f"o{i % (n - 40)}", customer,  # the last 40 repeat earlier keys
                     f"2024-0{i % 9 + 1}-0{i % 7 + 1}T10:00:00Z", amount, "EUR"])
    return rows


def _store(folder: Path) -> Engine:
    folder.mkdir()
    engine = build_engine(f"sqlite:///{folder / 'kithkin.db'}")
    upgrade(engine)
    seed_customers(engine, folder)
    return engine


def _indexes(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {row[1] for row in conn.exec_driver_sql('PRAGMA index_list("transaction")')}


def _run(engine: Engine, path: Path, *, bulk_mode: bool, **options: Any
         ) -> tuple[ImportReport, list[dict[str, str]]]:
    # Batches of 1,000 with 5,000 preload: first batches go through the join, later ones
    # through the in-memory path, and a repeated key makes a batch fall back to the upsert.
    report = ingest_file(kind="transactions", path=path, engine=engine, batch_size=1_000,
                         bulk=bulk_mode, **options)
    assert report.bulk is bulk_mode
    return report, read_rejects(report.reject_path) if report.reject_path else []


def _counts(report: ImportReport) -> tuple[int, ...]:
    return (report.rows_read, report.rows_written, report.inserted, report.updated,
            report.unchanged, report.duplicates, report.rows_rejected)


def test_bulk_import_writes_what_per_batch_commits_write(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setattr(store, "PRELOAD_MIN_ROWS", 500)
    first = write_csv(tmp_path / "orders.csv", _orders(6_000))
    again = write_csv(tmp_path / "orders2.csv", _orders(6_000, changed=3))
    outcomes = []
    for mode in (False, True):
        engine = _store(tmp_path / f"bulk-{mode}")
        runs = [_run(engine, first, bulk_mode=mode), _run(engine, again, bulk_mode=mode)]
        outcomes.append((
            rows_of(engine, "transaction"),
            [_counts(report) for report, _ in runs],
            [[(r["row"], r["field"], r["reason"]) for r in rejects] for _, rejects in runs],
        ))
        assert INDEX in _indexes(engine)
        with engine.connect() as conn:  # the pooled connection gets its settings back
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA temp_store").scalar_one() == 1  # FILE
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -65536
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
        engine.dispose()
    assert outcomes[0] == outcomes[1]
    stored, counts, rejects = outcomes[1]
    assert counts[0][2] == len(stored) > 5_000 and counts[1][2] == 0  # then all known
    assert counts[1][3] > 0  # the changed amount (and the repeated keys) updated
    assert {field for _, field, _ in rejects[0]} == {"customer_external_id", "amount"}


def test_a_failing_bulk_import_leaves_the_store_as_it_was(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    engine = _store(tmp_path / "store")
    _run(engine, write_csv(tmp_path / "old.csv", [TRANSACTIONS_HEADER,
                                                  ["shop", "old", "c1", "2024-01-01", "5", "EUR"]]),
         bulk_mode=False)
    before = rows_of(engine, "transaction")
    write = store.SetBasedWriter.write
    calls = []

    def failing_write(self: store.SetBasedWriter, *args: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return write(self, *args)

    monkeypatch.setattr(store.SetBasedWriter, "write", failing_write)
    with pytest.raises(RuntimeError, match="disk on fire"):
        _run(engine, write_csv(tmp_path / "orders.csv", _orders(6_000)), bulk_mode=True)
    assert rows_of(engine, "transaction") == before
    assert INDEX in _indexes(engine)
    with engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM import_job ORDER BY id DESC")).scalar()
    assert status == "failed"


def test_bulk_dry_run_and_strict_write_nothing(tmp_path: Path) -> None:
    engine = _store(tmp_path / "store")
    path = write_csv(tmp_path / "orders.csv", _orders(3_000))
    report, _ = _run(engine, path, bulk_mode=True, dry_run=True)
    assert report.inserted > 0 and count(engine, "transaction") == 0
    with pytest.raises(Exception, match="strict mode"):
        _run(engine, path, bulk_mode=True, strict=True)
    assert count(engine, "transaction") == 0 and INDEX in _indexes(engine)


def test_bulk_mode_applies_to_imports_large_next_to_the_table(
        sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_customers(sqlite_engine, tmp_path)
    monkeypatch.setattr(bulk, "BULK_MIN_ROWS", 100)

    def applies(incoming: int | None, kind: Kind = Kind.TRANSACTIONS,
                requested: bool | None = None) -> bool:
        with sqlite_engine.connect() as conn:
            return bulk.applies(conn, kind=kind, table="transaction", incoming=incoming,
                                requested=requested)

    assert applies(100) and not applies(99) and not applies(None)
    assert not applies(10**6, kind=Kind.CUSTOMERS)  # matched through its own indexes
    assert applies(5, requested=True) and not applies(10**6, requested=False)
    ingest_file(kind="transactions", path=write_csv(tmp_path / "o.csv", _orders(400)),
                engine=sqlite_engine, bulk=False)
    stored = count(sqlite_engine, "transaction")
    assert applies(max(stored, 100)) and not applies(stored - 1)
    report = ingest_file(kind="transactions", path=write_csv(tmp_path / "p.csv", _orders(600)),
                         engine=sqlite_engine)
    assert report.bulk  # auto: 600 incoming rows next to fewer stored ones


def _bulk_import_process(path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "kithkin.imports.ingest.cli", "transactions", str(path),
         "--batch-size", "500", "--bulk"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy(),
    )


@pytest.mark.slow
def test_killed_bulk_import_leaves_nothing_and_rerun_completes(
        sqlite_engine: Engine, workspace: Path, tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    orders = write_csv(tmp_path / "orders.csv", _orders(100_000))
    process = _bulk_import_process(orders)
    # Rejects are written batch by batch: once some are on disk the import is midway.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        files = list((workspace / "rejects").glob("orders-*.csv"))
        if files and files[0].read_text().count("\n") > 3:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    assert process.wait(timeout=60) == -signal.SIGKILL, "the import was not killed midway"
    assert count(sqlite_engine, "transaction") == 0  # nothing of the killed run is kept
    assert INDEX in _indexes(sqlite_engine)
    with sqlite3.connect(workspace / "kithkin.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        killed = conn.execute("SELECT id, status FROM import_job "
                              "WHERE kind = 'transactions'").fetchall()
    assert [status for _, status in killed] == ["running"]

    report = ingest_file(kind="transactions", path=orders, engine=sqlite_engine, bulk=True)
    assert report.status == "succeeded"
    with sqlite_engine.connect() as conn:
        status, error = conn.execute(text("SELECT status, error FROM import_job WHERE id = :id"),
                                     {"id": killed[0][0]}).one()
    assert (status, error) == ("interrupted", STALE_ERROR)
    clean = _store(tmp_path / "clean")
    expected = ingest_file(kind="transactions", path=orders, engine=clean, bulk=False)
    assert _counts(report) == _counts(expected)  # the killed run left nothing behind
    assert rows_of(sqlite_engine, "transaction") == rows_of(clean, "transaction")
    clean.dispose()
