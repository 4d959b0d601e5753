"""`kithkin refresh` end to end on the crafted store (SQLite and PostgreSQL stores)."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, func, insert, select, update
from typer.testing import CliRunner

from kithkin.analytics import refresh, snapshot
from kithkin.analytics import service as metrics_service
from kithkin.analytics.models import CustomerMetric, MetricsRun
from kithkin.atrisk.models import DefectionChange
from kithkin.cli.main import app
from kithkin.config import get_settings
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.errors import ConflictError, KithkinError
from kithkin.relationships.models import CustomerStage, RelationshipRun
from kithkin.transactions.models import Transaction
from tests.analytics import crafted


def _block(engine: Engine, as_of: date) -> dict[int, CustomerMetric]:
    with session_scope(engine) as session:
        rows = session.scalars(select(CustomerMetric).where(CustomerMetric.as_of == as_of))
        return {row.customer_id: row for row in rows}


def test_refresh_stores_every_metric_and_replaces_the_as_of(store_engine: Engine) -> None:
    crafted.load(store_engine)
    refresh.run(settings=get_settings(), as_of=date(2024, 3, 31), store_engine=store_engine)
    result = refresh.run(settings=get_settings(), as_of=crafted.AS_OF,
                         store_engine=store_engine)
    # every step, the landing's checkpoint (done while the relationships write) and the
    # relationships' (done while the later steps compute)
    assert result.customers == 5 and set(result.timings) == {
        *refresh.STEPS, "checkpoint", "relationships_checkpoint"}
    block = _block(store_engine, crafted.AS_OF)
    assert sorted(block) == [1, 2, 4, 5, 6]  # Carol is acquired after as-of
    alice = block[1]
    assert (alice.orders, alice.frequency, alice.T, alice.rfm_score) == (4, 2.0, 172.0, "344")
    assert alice.margin == pytest.approx(138.0)
    assert alice.first_purchase_at is not None and alice.first_purchase_at.hour == 9
    assert alice.has_loyalty is True and alice.membership_tier == "gold"
    frank = block[6]  # no purchase: counts, no value
    assert frank.orders == 0 and frank.frequency is None and frank.p_alive is None
    assert frank.ideas == 1 and frank.has_contract is False

    again = refresh.run(settings=get_settings(), as_of=crafted.AS_OF,
                        store_engine=store_engine)
    assert again.snapshot == () or all(p.mode == "unchanged" for p in again.snapshot)
    # an earlier as-of cannot be refreshed completely (stage history moves forward):
    # refused before anything is stored, naming both dates and what to do
    with pytest.raises(ConflictError, match=r"as of 2024-03-31: the latest refresh is as of "
                       r"2024-06-30.*--as-of 2024-06-30"):
        refresh.run(settings=get_settings(), as_of=date(2024, 3, 31),
                    store_engine=store_engine)
    with session_scope(store_engine) as session:
        per_as_of = dict(session.execute(
            select(CustomerMetric.as_of, func.count()).group_by(CustomerMetric.as_of)).all())
        assert per_as_of == {crafted.AS_OF: 5, date(2024, 3, 31): 5}  # history kept
        run = metrics_service.get_run(session=session, as_of=crafted.AS_OF)
        assert run.model_params is not None
        # The data's margin ratio: Alice and Bob have costs, Dan and Eve do not.
        assert run.model_params["margin"] == pytest.approx((138.0 + 15.0) / (330.0 + 40.0))
        assert run.timings and run.finished_at is not None
        latest = metrics_service.for_customer(session=session, customer_id=1)
        assert latest is not None and latest.as_of == crafted.AS_OF
        assert len(metrics_service.history(session=session, customer_id=1)) == 2
        frame = metrics_service.load_block(session=session)
        assert sorted(frame.customer_id) == [1, 2, 4, 5, 6]


def test_all_zero_frequency_stores_metrics_and_reports_the_model_error(
    sqlite_engine: Engine,
) -> None:
    with sqlite_engine.begin() as conn:
        conn.execute(insert(Customer), [{"id": i} for i in (1, 2, 3)])
        conn.execute(insert(Transaction), [
            {"source": "s", "order_id": f"o{i}", "customer_id": i,
             "ordered_at": crafted.at(f"2024-0{i}-10"), "amount": 10.0 * i}
            for i in (1, 2, 3)])
    result = refresh.run(settings=get_settings(), as_of=crafted.AS_OF,
                         store_engine=sqlite_engine)
    assert result.model_error is not None and "BG/NBD" in result.model_error
    block = _block(sqlite_engine, crafted.AS_OF)
    assert [block[i].frequency for i in (1, 2, 3)] == [0.0, 0.0, 0.0]
    assert block[3].revenue == 30.0 and block[3].p_alive is None
    with session_scope(sqlite_engine) as session:
        run = session.scalars(select(MetricsRun)).one()
        assert run.model_error == result.model_error


def test_a_failed_landing_stops_the_refresh_before_the_relationships_write(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The block lands in a writer thread while the relationship engine computes; its
    error must end the run before any stage, defection or relationship row is written."""
    crafted.load(sqlite_engine)

    def broken(**_: Any) -> int:
        raise KithkinError("the disk is full")

    monkeypatch.setattr(refresh, "store", broken)
    with pytest.raises(KithkinError, match="the disk is full"):
        refresh.run(settings=get_settings(), as_of=crafted.AS_OF, store_engine=sqlite_engine)
    with session_scope(sqlite_engine) as session:
        for model in (CustomerStage, RelationshipRun, DefectionChange):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model


def test_a_failed_defection_step_stores_no_change_and_writes_no_stage(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The changes are staged before the block lands, in their own session: a failure
    after that (here the exit interviews) leaves no change row and ends the run before
    the relationships write; the block it landed first stays (its own commit)."""
    crafted.load(sqlite_engine)

    def broken(**_: Any) -> int:
        raise KithkinError("no task today")

    monkeypatch.setattr(refresh.atrisk_service, "create_exit_interviews", broken)
    with pytest.raises(KithkinError, match="no task today"):
        refresh.run(settings=get_settings(), as_of=crafted.AS_OF, store_engine=sqlite_engine)
    with session_scope(sqlite_engine) as session:
        assert session.scalar(select(func.count()).select_from(CustomerMetric)) == 5
        for model in (CustomerStage, RelationshipRun, DefectionChange):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model


def test_the_relationships_write_after_the_block_and_defections_landed(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    crafted.load(sqlite_engine)
    seen: list[tuple[int, int]] = []
    original = refresh.relationship_service.refresh

    def watching(**kwargs: Any) -> Any:
        ready = kwargs.pop("ready")

        def checked() -> object:
            done = ready()
            with session_scope(sqlite_engine) as session:
                seen.append((session.scalar(select(func.count(CustomerMetric.id))) or 0,
                             session.scalar(select(func.count(DefectionChange.id))) or 0))
            return done

        return original(**kwargs, ready=checked)

    monkeypatch.setattr(refresh.relationship_service, "refresh", watching)
    result = refresh.run(settings=get_settings(), as_of=crafted.AS_OF,
                         store_engine=sqlite_engine)
    assert seen == [(result.customers, result.defection["changes"])]
    assert result.customers == 5 and result.seconds > 0  # the run's wall time is kept


def _refresh_snapshot(engine: Engine) -> dict[str, Any]:
    parts = snapshot.refresh(engine=engine, directory=get_settings().snapshot_dir)
    return {part.name: (part.mode, part.rows_copied, part.total_rows) for part in parts}


def test_snapshot_appends_new_rows_and_rebuilds_after_updates(sqlite_engine: Engine) -> None:
    crafted.load(sqlite_engine)
    first = _refresh_snapshot(sqlite_engine)
    assert first["transactions"] == ("rebuilt", 14, 14)
    assert _refresh_snapshot(sqlite_engine)["transactions"] == ("unchanged", 0, 14)
    with sqlite_engine.begin() as conn:
        conn.execute(insert(Transaction), [
            {"source": "shop", "order_id": "new", "customer_id": 2,
             "ordered_at": crafted.at("2024-06-20"), "amount": 15.0}])
    assert _refresh_snapshot(sqlite_engine)["transactions"] == ("appended", 1, 15)
    with sqlite_engine.begin() as conn:
        conn.execute(update(Transaction).where(Transaction.id == 1).values(amount=99.0))
    assert _refresh_snapshot(sqlite_engine)["transactions"] == ("rebuilt", 15, 15)
    with sqlite_engine.begin() as conn:
        conn.execute(Transaction.__table__.delete().where(Transaction.id == 3))
    assert _refresh_snapshot(sqlite_engine)["transactions"] == ("rebuilt", 14, 14)
    # each part's range keeps its own fingerprint: a change in an appended part counts
    with sqlite_engine.begin() as conn:
        added = conn.execute(insert(Transaction).returning(Transaction.id), [
            {"source": "shop", "order_id": "later", "customer_id": 2,
             "ordered_at": crafted.at("2024-06-21"), "amount": 5.0}]).scalar_one()
    assert _refresh_snapshot(sqlite_engine)["transactions"] == ("appended", 1, 15)
    assert _refresh_snapshot(sqlite_engine)["transactions"] == ("unchanged", 0, 15)
    with sqlite_engine.begin() as conn:
        conn.execute(update(Transaction).where(Transaction.id == added).values(customer_id=3))
    assert _refresh_snapshot(sqlite_engine)["transactions"] == ("rebuilt", 15, 15)


def test_cli_refresh_and_customers_show(sqlite_engine: Engine) -> None:
    crafted.load(sqlite_engine)
    runner = CliRunner()
    refreshed = runner.invoke(app, ["refresh", "--as-of", "2024-06-30", "--margin", "0.4"])
    assert refreshed.exit_code == 0, refreshed.output
    assert "stored metrics of 5 customers" in refreshed.output
    shown = runner.invoke(app, ["customers", "show", "1"])
    assert shown.exit_code == 0, shown.output
    assert "Alice" in shown.output and "loyal customers" in shown.output
    assert "2024-06-30" in shown.output
    missing = runner.invoke(app, ["customers", "show", "999"])
    assert missing.exit_code == 1
    bad = runner.invoke(app, ["refresh", "--as-of", "June"])
    assert bad.exit_code != 0
    earlier = runner.invoke(app, ["refresh", "--as-of", "2024-05-31"])
    assert earlier.exit_code == 1, earlier.output
    assert "2024-05-31" in earlier.output and "2024-06-30" in earlier.output
    assert "not refreshed" not in earlier.output
    with session_scope(sqlite_engine) as session:
        run = metrics_service.get_run(session=session, as_of=crafted.AS_OF)
        assert run.model_params is not None and math.isclose(run.model_params["margin"], 0.4)


def test_adbc_child_copy_equals_the_dbapi_copy(sqlite_engine: Engine,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast SQLite reader (ADBC, in child processes, one per core and id range)
    writes the same snapshot."""
    pytest.importorskip("adbc_driver_sqlite")
    crafted.load(sqlite_engine)
    directory = get_settings().snapshot_dir
    # Orders and interactions: integers, floats, text, timestamps, NULL-leading columns.
    specs = [spec for spec in snapshot.SPECS if spec.name in {"transactions", "interactions"}]
    for spec in specs:
        snapshot.refresh_table(engine=sqlite_engine, spec=spec, directory=directory / "dbapi")
    monkeypatch.setattr(snapshot, "ADBC_MIN_ROWS", 0)
    monkeypatch.setattr(snapshot.os, "cpu_count", lambda: 3)  # three children, three parts
    for spec in specs:
        snapshot.refresh_table(engine=sqlite_engine, spec=spec, directory=directory / "adbc")
        tables = [pq.read_table(directory / kind / spec.name) for kind in ("dbapi", "adbc")]
        assert tables[0].num_rows > 0 and tables[0].equals(tables[1]), spec.name
        assert len(list((directory / "adbc" / spec.name).glob("*.parquet"))) == 3
    with sqlite_engine.begin() as conn:  # rows written by this process are seen
        conn.execute(insert(Transaction), [
            {"source": "shop", "order_id": "late", "customer_id": 2,
             "ordered_at": crafted.at("2024-06-21"), "amount": 5.0}])
    part = snapshot.refresh_table(engine=sqlite_engine, spec=specs[0],
                                  directory=directory / "adbc")
    assert (part.name, part.mode, part.rows_copied) == ("transactions", "appended", 1)
    # the fingerprint scanned while the child copied is the store's: nothing to redo
    again = snapshot.refresh_table(engine=sqlite_engine, spec=specs[0],
                                   directory=directory / "adbc")
    assert (again.mode, again.total_rows) == ("unchanged", 15)


@pytest.mark.postgres
def test_refresh_on_the_postgres_engine_matches_duckdb(pg_engine: Engine,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """analytics_engine=postgres reads the store in place and stores the same block."""
    crafted.load(pg_engine)
    refresh.run(settings=get_settings(), as_of=crafted.AS_OF, store_engine=pg_engine)
    via_duckdb = metrics_service_block(pg_engine)
    monkeypatch.setenv("KITHKIN_ANALYTICS_ENGINE", "postgres")
    get_settings.cache_clear()
    result = refresh.run(settings=get_settings(), as_of=crafted.AS_OF, store_engine=pg_engine)
    assert result.engine == "postgres" and result.snapshot == ()
    assert metrics_service_block(pg_engine).equals(via_duckdb)


def metrics_service_block(engine: Engine) -> Any:
    with session_scope(engine) as session:
        return metrics_service.load_block(session=session).sort_values("customer_id")


def test_relationships_commit_leaves_the_log_to_a_checkpoint_after_it(
        sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The relationships' commit does not copy the write-ahead log into the database
    file (SQLite's automatic checkpoint would, inside the commit, on the refresh's
    critical path): their connection defers it, and a passive checkpoint runs after
    them, while the later steps compute."""
    crafted.load(sqlite_engine)
    seen: dict[str, Any] = {}
    original = refresh.relationship_service.refresh
    calls: list[str] = []

    def spy(*, session: Any, **kwargs: Any) -> Any:
        raw = session.connection().connection.dbapi_connection
        seen["autocheckpoint"] = raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        return original(session=session, **kwargs)

    checkpoint = refresh.bulk.checkpoint

    def counted(engine: Engine) -> None:
        calls.append("checkpoint")
        checkpoint(engine)

    monkeypatch.setattr(refresh.relationship_service, "refresh", spy)
    monkeypatch.setattr(refresh.bulk, "checkpoint", counted)
    result = refresh.run(settings=get_settings(), as_of=crafted.AS_OF,
                         store_engine=sqlite_engine)
    assert seen["autocheckpoint"] == 0
    assert calls == ["checkpoint", "checkpoint"]  # the landing's, the relationships'
    assert "relationships_checkpoint" in result.timings
    with sqlite_engine.connect() as conn:  # the pooled connection got its setting back
        raw = conn.connection.dbapi_connection
        assert raw is not None
        assert raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0] > 0
