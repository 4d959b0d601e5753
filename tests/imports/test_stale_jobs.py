"""Jobs left `running` by a dead process are marked `interrupted`; live ones are not."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from kithkin.imports import lease
from kithkin.imports.ingest import ingest_file

from .helpers import TRANSACTIONS_HEADER, seed_customers, write_csv


def _orphan(engine: Engine) -> int:
    """A job row as a killed process leaves it: running, with no lease held."""
    with engine.begin() as conn:
        return int(conn.execute(text(
            "INSERT INTO import_job (kind, filename, status, dry_run, strict, rows_read, "
            "rows_written, rows_rejected, started_at) VALUES ('transactions', 'x.csv', "
            "'running', false, false, 0, 0, 0, CURRENT_TIMESTAMP) RETURNING id")).scalar_one())


def _status(engine: Engine, job_id: int) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT status, error FROM import_job WHERE id = :id"),
                           {"id": job_id}).one()
    return str(row[0]), row[1]


def _check(engine: Engine, tmp_path: Path) -> None:
    seed_customers(engine, tmp_path)
    orphan, mine = _orphan(engine), _orphan(engine)
    with engine.begin() as conn:
        lease.acquire(conn, mine)  # as an import running in this process would
    try:
        ingest_file(kind="transactions", engine=engine, path=write_csv(
            tmp_path / "o.csv", [TRANSACTIONS_HEADER, ["shop", "o1", "c1", "2024-01-01", "1",
                                                       "EUR"]]))
        assert _status(engine, orphan) == ("interrupted", lease.STALE_ERROR)
        assert _status(engine, mine) == ("running", None)
    finally:
        with engine.connect() as conn:
            lease.release(conn, mine)
    with engine.connect() as conn:
        assert lease.reap_stale(conn) == [mine]


def test_sqlite_stale_jobs_are_reaped(sqlite_engine: Engine, tmp_path: Path) -> None:
    _check(sqlite_engine, tmp_path)


@pytest.mark.postgres
def test_postgres_stale_jobs_are_reaped(pg_engine: Engine, tmp_path: Path) -> None:
    _check(pg_engine, tmp_path)
