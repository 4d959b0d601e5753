"""SQLite's in-memory reference path must write exactly what the set-based join writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from kithkin.imports.ingest import ingest_file, store
from kithkin.imports.schemas import ImportReport

from .helpers import TRANSACTIONS_HEADER, count, read_rejects, rows_of, seed_customers, write_csv

ORDERS = [
    [*TRANSACTIONS_HEADER, "customer_source"],
    ["shop", "o1", "c1", "2024-03-01T10:00:00Z", "10", "EUR", ""],
    ["shop", "o2", "ghost", "2024-03-02T10:00:00Z", "11", "EUR", ""],
    ["shop", "o3", "c2", "2024-03-03T10:00:00Z", "12", "EUR", "shop"],
    ["shop", "o4", "c3", "2024-03-04T10:00:00Z", "13", "EUR", "elsewhere"],
    ["shop", "o5", "c3", "2024-03-05T10:00:00Z", "14", "EUR", ""],
]


def _import(engine: Engine, tmp_path: Path, rows: list[list[str]], name: str
            ) -> tuple[ImportReport, list[dict[str, str]]]:
    report = ingest_file(kind="transactions", path=write_csv(tmp_path / name, rows),
                         engine=engine, batch_size=100)
    rejects = read_rejects(report.reject_path) if report.reject_path else []
    return report, rejects


Outcome = tuple[list[tuple[Any, ...]], list[tuple[int, int, int, int]], list[str]]
"""Stored rows, (inserted, updated, unchanged, rejected) per run, rejects then owners."""


def _import_twice(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  threshold: int) -> Outcome:
    """Import the orders, then again with one amount changed, with the given threshold."""
    monkeypatch.setattr(store, "PRELOAD_MIN_ROWS", threshold)
    seed_customers(engine, tmp_path)
    first, rejects = _import(engine, tmp_path, ORDERS, "orders.csv")
    changed = [row[:] for row in ORDERS]
    changed[5][4] = "99"  # o5's amount changes on the second run
    second, _ = _import(engine, tmp_path, changed, "orders2.csv")
    counts = [(r.inserted, r.updated, r.unchanged, r.rows_rejected) for r in (first, second)]
    with engine.connect() as conn:
        owners = [str(row[0]) for row in conn.execute(text(
            'SELECT c.external_id FROM "transaction" t '
            "JOIN customer_identifier c ON c.customer_id = t.customer_id ORDER BY t.order_id"))]
    return rows_of(engine, "transaction", {"id", "created_at", "customer_id"}), counts, [
        f"{r['row']}:{r['reason']}" for r in rejects] + owners


def test_in_memory_and_join_paths_agree(sqlite_engine: Engine, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Threshold 0 resolves customers in Arrow; a huge one keeps the SQL join."""
    resolved = _import_twice(sqlite_engine, tmp_path, monkeypatch, threshold=0)
    _, counts, rejects_and_owners = resolved
    assert counts == [(3, 0, 0, 2), (0, 1, 2, 2)]
    assert rejects_and_owners == ["2:unknown customer", "4:unknown customer",
                                  "c1", "c2", "c3"]
    assert count(sqlite_engine, "transaction") == 3
    with sqlite_engine.begin() as conn:
        conn.execute(text('DELETE FROM "transaction"'))
    (tmp_path / "join").mkdir()
    joined = _import_twice(sqlite_engine, tmp_path / "join", monkeypatch, threshold=10**9)
    assert joined == resolved


@pytest.mark.postgres
def test_postgres_copy_and_join_paths_agree(pg_engine: Engine, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Threshold 0 COPYs resolved rows straight into the table, falling back to the
    upsert on the re-import; a huge threshold stages and joins every batch."""
    resolved = _import_twice(pg_engine, tmp_path, monkeypatch, threshold=0)
    assert resolved[1] == [(3, 0, 0, 2), (0, 1, 2, 2)]
    with pg_engine.begin() as conn:
        conn.execute(text('DELETE FROM "transaction"'))
    (tmp_path / "join").mkdir()
    assert _import_twice(pg_engine, tmp_path / "join", monkeypatch, threshold=10**9) == resolved


@pytest.mark.postgres
def test_postgres_copy_retries_customers_missing_from_the_snapshot(
        pg_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A customer added by another writer after the identifiers were loaded is found by
    the join, not rejected: PostgreSQL has concurrent writers."""
    monkeypatch.setattr(store, "PRELOAD_MIN_ROWS", 0)
    seed_customers(pg_engine, tmp_path)
    lookup = store._Lookup.__init__

    def snapshot_then_new_customer(self: store._Lookup, *args: Any) -> None:
        lookup(self, *args)
        ingest_file(kind="customers", path=write_csv(tmp_path / "late.csv", [
            ["source", "external_id", "first_name"], ["shop", "late", "Lee"]]), engine=pg_engine)

    monkeypatch.setattr(store._Lookup, "__init__", snapshot_then_new_customer)
    rows = [TRANSACTIONS_HEADER, ["shop", "o1", "c1", "2024-03-01", "10", "EUR"],
            ["shop", "o2", "late", "2024-03-02", "11", "EUR"],
            ["shop", "o3", "ghost", "2024-03-03", "12", "EUR"]]
    report, rejects = _import(pg_engine, tmp_path, rows, "orders.csv")
    assert (report.inserted, report.rows_rejected) == (2, 1)
    assert [(r["row"], r["reason"]) for r in rejects] == [("3", "unknown customer")]
    assert count(pg_engine, "transaction") == 2
