"""Counts reported by a batch are its own when other writers commit meanwhile (PostgreSQL).

Event batches arrive concurrently on PostgreSQL; each response's ``inserted`` must count
only the rows that batch created, or clients summing the responses over-count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from kithkin.imports.ingest import ingest_records
from kithkin.imports.ingest.store import StoreDialect

from .helpers import count, seed_customers


def _events(source: str, n: int) -> list[dict[str, Any]]:
    return [{"source": source, "external_id": f"e{i}", "customer_external_id": f"c{i % 3 + 1}",
             "customer_source": "shop", "occurred_at": "2024-05-01T12:00:00Z",
             "direction": "inbound", "kind": "review"} for i in range(n)]


@pytest.mark.postgres
def test_batch_counts_exclude_rows_committed_by_a_concurrent_writer(
        pg_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_customers(pg_engine, tmp_path)
    ingest_records(kind="interactions", records=_events("old", 4), engine=pg_engine)
    reports = []
    calls = 0
    now = StoreDialect.now

    def now_with_a_concurrent_commit(self: StoreDialect, connection: Connection) -> Any:
        # Another connection commits a batch while ours is staged but not yet upserted.
        nonlocal calls
        calls += 1
        if calls == 1:
            reports.append(ingest_records(kind="interactions", records=_events("other", 7),
                                          engine=pg_engine))
        return now(self, connection)

    monkeypatch.setattr(StoreDialect, "now", now_with_a_concurrent_commit)
    # 2 of our 5 events are already stored, one of them with another kind now.
    ours = _events("old", 2) + _events("new", 3)
    ours[1]["kind"] = "complaint"
    report = ingest_records(kind="interactions", records=ours, engine=pg_engine)
    assert (reports[0].inserted, reports[0].updated, reports[0].unchanged) == (7, 0, 0)
    assert (report.inserted, report.updated, report.unchanged) == (3, 1, 1)
    assert count(pg_engine, "interaction") == 4 + 7 + 3
