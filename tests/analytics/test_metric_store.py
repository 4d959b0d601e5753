"""Storing the metrics block: the staged SQLite path (ADBC child + upsert in C) stores
exactly what the driver path stores, replaces an as-of atomically and cleans up."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from kithkin.analytics import refresh
from kithkin.analytics import service as metrics_service
from kithkin.config import get_settings
from kithkin.database import adbc as staging
from kithkin.database.core import session_scope
from tests.analytics import crafted

VALUES = ", ".join(f'typeof("{n}"), "{n}"' for n in metrics_service.METRIC_COLUMNS)


def _stored(engine: Engine, as_of: date) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(
            f"SELECT {VALUES} FROM customer_metric WHERE as_of = ? ORDER BY customer_id",
            (as_of.isoformat(),)).all()]


def test_staged_store_equals_the_driver_path(sqlite_engine: Engine,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("adbc_driver_sqlite")
    crafted.load(sqlite_engine)
    refresh.run(settings=get_settings(), as_of=crafted.AS_OF, store_engine=sqlite_engine)
    by_driver = _stored(sqlite_engine, crafted.AS_OF)  # 5 rows: below MIN_ROWS
    with session_scope(sqlite_engine) as session:
        block = metrics_service.load_block(session=session)
    monkeypatch.setattr(staging, "MIN_ROWS", 0)
    other = date(2024, 7, 1)
    with session_scope(sqlite_engine) as session:  # a new as-of: plain insert
        metrics_service.replace_as_of(session=session, as_of=other, metrics=block,
                                      run={"engine": "duckdb"})
    staged = _stored(sqlite_engine, other)
    assert len(by_driver) == 5
    assert [row[2:] for row in staged] == [row[2:] for row in by_driver]  # as-of differs

    # the same as-of again: updated in place, a customer gone, one value changed
    changed = block[block.customer_id != 6].copy()
    changed.loc[changed.customer_id == 1, "revenue"] = 1.5
    with session_scope(sqlite_engine) as session:
        metrics_service.replace_as_of(session=session, as_of=other, metrics=changed,
                                      run={"engine": "duckdb"})
        assert metrics_service.get_run(session=session, as_of=other).customers == 4
    column = {name: 2 * i + 1 for i, name in enumerate(metrics_service.METRIC_COLUMNS)}
    again = {row[column["customer_id"]]: row for row in _stored(sqlite_engine, other)}
    assert sorted(again) == [1, 2, 4, 5]
    assert again[1][column["revenue"]] == 1.5
    assert [again[c][2:] for c in (2, 4, 5)] == [
        r[2:] for r in staged if r[column["customer_id"]] in (2, 4, 5)]
    folder = Path(str(sqlite_engine.url.database)).parent
    assert not list(folder.glob("kithkin-stage-*"))  # detached and deleted


def test_staged_store_rolls_back_with_the_session(sqlite_engine: Engine,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("adbc_driver_sqlite")
    crafted.load(sqlite_engine)
    refresh.run(settings=get_settings(), as_of=crafted.AS_OF, store_engine=sqlite_engine)
    before = _stored(sqlite_engine, crafted.AS_OF)
    with session_scope(sqlite_engine) as session:
        block = metrics_service.load_block(session=session)
    monkeypatch.setattr(staging, "MIN_ROWS", 0)
    with pytest.raises(RuntimeError), session_scope(sqlite_engine) as session:
        metrics_service.replace_as_of(session=session, as_of=crafted.AS_OF,
                                      metrics=block.head(2), run={"engine": "duckdb"})
        raise RuntimeError("crash before commit")
    assert _stored(sqlite_engine, crafted.AS_OF) == before


def _plan(engine: Engine, query: Any) -> str:
    compiled = query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        return " | ".join(str(row[-1]) for row in conn.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {compiled}"))


def test_the_block_and_one_customer_read_through_indexes(sqlite_engine: Engine) -> None:
    """The unique (customer_id, as_of) key serves one customer's history (there is no
    separate customer index to build over each block), and whole-block reads seek an
    as-of index: neither scans the table, whatever the number of blocks stored."""
    from sqlalchemy import select

    from kithkin.analytics.models import CustomerMetric
    from kithkin.atrisk import service as atrisk_service

    crafted.load(sqlite_engine)
    refresh.run(settings=get_settings(), as_of=crafted.AS_OF, store_engine=sqlite_engine)
    latest = select(CustomerMetric).where(CustomerMetric.customer_id == 1).order_by(
        CustomerMetric.as_of.desc()).limit(1)
    history = select(CustomerMetric).where(CustomerMetric.customer_id == 1).order_by(
        CustomerMetric.as_of)
    block = select(CustomerMetric.customer_id).where(CustomerMetric.as_of == crafted.AS_OF)
    for query in (latest, history):
        plan = _plan(sqlite_engine, query)
        assert "USING INDEX sqlite_autoindex_customer_metric" in plan, plan
        assert "TEMP B-TREE" not in plan and "SCAN" not in plan, plan
    plan = _plan(sqlite_engine, block)
    assert "SEARCH customer_metric USING" in plan and "(as_of=?)" in plan, plan
    with session_scope(sqlite_engine) as session:
        assert metrics_service.for_customer(session=session, customer_id=1) is not None
        ranked = atrisk_service._at_risk_query(crafted.AS_OF, stage=None, segment=None,
                                              level=None, account_manager_id=None,
                                              scope=None).order_by(
            CustomerMetric.value_at_risk.desc().nulls_last()).limit(50)
    assert "ix_customer_metric_as_of_value_at_risk" in _plan(sqlite_engine, ranked)
