"""Kill an import mid-file, then run it again: whole batches or none, and no duplicates."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from sqlalchemy import Engine, event, text

from kithkin.database.core import build_engine
from kithkin.database.manage import upgrade
from kithkin.imports.ingest import ingest_file
from kithkin.imports.lease import STALE_ERROR, reap_stale

from .helpers import rows_of, seed_customers

ROWS = 30_000


def _orders(path: Path, rows: int = ROWS) -> Path:
    numbers = np.arange(rows)
    pa_csv.write_csv(pa.table({
        "source": pa.array(["shop"] * rows),
        "order_id": pa.array(np.char.add("o", numbers.astype(str))),
        "customer_external_id": pa.array(np.array(["c1", "c2", "c3"])[numbers % 3]),
        "ordered_at": pa.array(["2024-01-01T10:00:00Z"] * rows),
        "amount": pa.array((numbers % 97 + 0.5).astype(str)),
    }), path)
    return path


# `python -m kithkin.imports.ingest.cli`, with SIGINT handled as at a terminal: a child inherits
# an ignored SIGINT (pytest started in the background by a non-interactive shell, nohup,
# some CI runners), Python then installs no KeyboardInterrupt handler, and the SIGINT
# case would fail every time there.
_CLI = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "runpy.run_module('kithkin.imports.ingest.cli', run_name='__main__', alter_sys=True)")


def _start_import(path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _CLI, "transactions", str(path), "--batch-size", "500"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy(),
    )


def _job(db: Path) -> tuple[str, int] | None:
    with sqlite3.connect(db, timeout=10) as conn:
        row = conn.execute("SELECT status, rows_written FROM import_job "
                           "WHERE kind = 'transactions' ORDER BY id DESC LIMIT 1").fetchone()
    return None if row is None else (row[0], int(row[1]))


def _statuses(db: Path) -> list[str]:
    with sqlite3.connect(db, timeout=10) as conn:
        return [row[0] for row in conn.execute(
            "SELECT status FROM import_job WHERE kind = 'transactions' ORDER BY id")]


def _stop_midway(process: subprocess.Popen[bytes], db: Path, sig: signal.Signals) -> int:
    """Send ``sig`` once some batches are committed; return the committed row count."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = _job(db)
        if job and job[1] > 0:
            process.send_signal(sig)
            break
        if process.poll() is not None:
            assert process.stderr is not None
            pytest.fail(f"import ended before it could be stopped: {process.stderr.read()!r}")
        time.sleep(0.01)
    process.wait(timeout=60)
    job = _job(db)
    assert job is not None
    return job[1]


def _clean_import(tmp_path: Path, orders: Path) -> Engine:
    engine: Engine = build_engine(f"sqlite:///{tmp_path / 'clean.db'}")
    upgrade(engine)
    (tmp_path / "clean").mkdir()
    seed_customers(engine, tmp_path / "clean")
    ingest_file(kind="transactions", path=orders, engine=engine)
    return engine


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_import_is_consistent_and_rerun_completes(
    sqlite_engine: Engine, workspace: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    seed_customers(sqlite_engine, tmp_path)
    orders = _orders(tmp_path / "orders.csv")
    db = workspace / "kithkin.db"
    process = _start_import(orders)
    committed = _stop_midway(process, db, sig)
    stored = len(rows_of(sqlite_engine, "transaction"))
    assert 0 < committed < ROWS, "the import was not stopped midway"
    assert stored == committed  # progress and data commit together: whole batches only
    status = _job(db)
    assert status is not None
    if sig is signal.SIGINT:
        assert process.returncode == 130 and status[0] == "interrupted"
    else:
        assert process.returncode == -signal.SIGKILL and status[0] == "running"

    report = ingest_file(kind="transactions", path=orders, engine=sqlite_engine)
    assert report.status == "succeeded" and report.rows_rejected == 0
    assert report.unchanged == committed and report.inserted == ROWS - committed
    # The killed job no longer claims to be running: the next import marked it.
    assert _statuses(db) == ["interrupted", "succeeded"]
    clean = _clean_import(tmp_path, orders)
    assert rows_of(sqlite_engine, "transaction") == rows_of(clean, "transaction")
    clean.dispose()


@pytest.mark.slow
def test_a_running_import_is_not_reaped_but_a_killed_one_is(
    sqlite_engine: Engine, workspace: Path, tmp_path: Path
) -> None:
    seed_customers(sqlite_engine, tmp_path)
    process = _start_import(_orders(tmp_path / "orders.csv"))
    deadline = time.monotonic() + 120
    while (job := _job(workspace / "kithkin.db")) is None or job[1] == 0:
        assert time.monotonic() < deadline and process.poll() is None, "import did not start"
        time.sleep(0.01)
    with sqlite_engine.connect() as conn:
        assert reap_stale(conn) == []  # its process holds the job's lease
    process.send_signal(signal.SIGSTOP)  # a stopped process still holds it
    try:
        with sqlite_engine.connect() as conn:
            assert reap_stale(conn) == []
    finally:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    with sqlite_engine.connect() as conn:
        reaped = reap_stale(conn)
        row = conn.execute(text("SELECT status, error, finished_at FROM import_job "
                                "WHERE kind = 'transactions'")).one()
    assert len(reaped) == 1
    assert row[0] == "interrupted" and row[1] == STALE_ERROR and row[2] is not None


class _CtrlC:
    """Raise KeyboardInterrupt where a Ctrl-C can land inside an import, in process.

    Python raises it when the interrupted C call returns, so "in a driver call" is the
    statement or commit having run with its result lost. It fires at the first ``moment``
    after the ``nth`` statement starting with ``after``: ``"statement"`` (that statement
    itself), ``"before commit"`` (SQLAlchemy committing, the driver not yet) or
    ``"commit"`` (the driver has committed).
    """

    def __init__(self, engine: Engine, monkeypatch: pytest.MonkeyPatch, *, after: str,
                 nth: int, moment: str) -> None:
        self.after, self.nth, self.moment = after, nth, moment
        self.seen, self.armed, self.fired = 0, False, False
        event.listen(engine, "after_cursor_execute", self._statement)
        event.listen(engine, "commit", self._before_commit)
        driver_commit = engine.dialect.do_commit

        def do_commit(dbapi_connection: Any) -> None:
            driver_commit(dbapi_connection)
            self._fire("commit")

        monkeypatch.setattr(engine.dialect, "do_commit", do_commit)

    def _fire(self, moment: str) -> None:
        if self.armed and not self.fired and moment == self.moment:
            self.fired = True
            raise KeyboardInterrupt

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith(self.after):
            self.seen += 1
            self.armed = self.armed or self.seen == self.nth
        self._fire("statement")

    def _before_commit(self, _conn: Any) -> None:
        self._fire("before commit")


SMALL = 3_000  # six batches of 500
PROGRESS = "UPDATE import_job SET rows_read"
CTRL_C_POINTS = {
    "job row committed": ("INSERT INTO import_job", 1, "commit"),
    "a batch's SELECT after its writes": ("SELECT count(*)", 3, "statement"),
    "a batch's progress UPDATE": (PROGRESS, 3, "statement"),
    "a commit not yet in the driver": (PROGRESS, 3, "before commit"),
    "a commit in the driver": (PROGRESS, 3, "commit"),
    "the final status, not yet committed": ("UPDATE import_job SET status", 1, "before commit"),
    "the final status committed": ("UPDATE import_job SET status", 1, "commit"),
}


@pytest.mark.parametrize("bulk", [False, True], ids=["per-batch", "bulk"])
@pytest.mark.parametrize("point", list(CTRL_C_POINTS))
def test_ctrl_c_at_any_point_marks_the_job_and_releases_the_store(
    sqlite_engine: Engine, workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    point: str, bulk: bool,
) -> None:
    seed_customers(sqlite_engine, tmp_path)
    orders = _orders(tmp_path / "orders.csv", SMALL)
    after, nth, moment = CTRL_C_POINTS[point]
    ctrl_c = _CtrlC(sqlite_engine, monkeypatch, after=after, nth=nth, moment=moment)
    with pytest.raises(KeyboardInterrupt):
        ingest_file(kind="transactions", path=orders, engine=sqlite_engine, batch_size=500,
                    bulk=bulk)
    assert ctrl_c.fired
    db = workspace / "kithkin.db"
    # Nothing holds the write lock any more (before the fix an interrupted SELECT left
    # it to a closed connection, and the status write failed with "database is locked").
    with sqlite3.connect(db, timeout=0) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.rollback()
    job = _job(db)
    stored = len(rows_of(sqlite_engine, "transaction"))
    assert job is not None and job[1] == stored  # whole batches (bulk: all or nothing)
    done = point == "the final status committed"
    assert job[0] == ("succeeded" if done else "interrupted")
    assert stored in {0, SMALL} if bulk else 0 <= stored <= SMALL
    with sqlite_engine.connect() as conn:  # the pooled connection got its settings back
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -65536
        assert {row[1] for row in conn.exec_driver_sql("PRAGMA index_list('transaction')")
                } >= {"ix_transaction_customer_time"}

    report = ingest_file(kind="transactions", path=orders, engine=sqlite_engine,
                         batch_size=500, bulk=bulk)
    assert report.status == "succeeded" and report.unchanged == stored
    assert "running" not in _statuses(db)
    clean = _clean_import(tmp_path, orders)
    assert rows_of(sqlite_engine, "transaction") == rows_of(clean, "transaction")
    clean.dispose()
