"""How a refresh stores its results: a stage row is written when a customer enters a
stage, explain shows the current values from the profile, and the staged SQLite path
(ADBC in a child process, applied in C) stores exactly what the driver path stores."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from kithkin.config import get_settings
from kithkin.database import adbc as staging
from kithkin.database.bulk import packed
from kithkin.relationships import service
from kithkin.relationships.definitions import BUILTIN_DIR
from kithkin.relationships.models import CustomerStage
from kithkin.relationships.workspace import install_model

from .crafted import CUSTOMERS, DRIFT, add_customers, metrics

FIRST, SECOND, THIRD = date(2026, 1, 1), date(2026, 4, 1), date(2026, 7, 1)
TABLES = ("customer_stage", "stage_change", "stage_count", "relationship_profile",
          "segment_level")


def test_explain_shows_current_values_of_an_unchanged_stage(store_engine: Engine) -> None:
    add_customers(store_engine, list(CUSTOMERS))
    with Session(store_engine) as session:
        service.refresh(session=session, settings=get_settings(), as_of=FIRST, metrics=metrics())
        session.commit()
        # customer 3 stays a friend, with other values than when it became one
        service.refresh(session=session, settings=get_settings(), as_of=SECOND, metrics=metrics(
            {3: {"days_since_last_purchase": 45, "interactions_90d": 5}}))
        session.commit()
        row = session.execute(select(CustomerStage).where(
            CustomerStage.customer_id == 3, CustomerStage.model == "journey")).scalar_one()
        assert row.as_of == FIRST  # not rewritten
        found = service.explain(session=session, settings=get_settings(), customer_id=3)
    journey = next(s for s in found.stages if s.model == "journey")
    assert journey.stage == "friend" and journey.as_of == SECOND
    assert journey.evidence["values"]["days_since_last_purchase"] == 45
    assert journey.evidence["values"]["interactions_90d"] == 5
    assert journey.evidence["values"]["orders"] == 3


def _scenario(engine: Engine, edited: Path) -> dict[str, Any]:
    with Session(engine) as session:
        service.refresh(session=session, settings=get_settings(), as_of=FIRST, metrics=metrics())
        session.commit()
        service.refresh(session=session, settings=get_settings(), as_of=SECOND,
                        metrics=metrics({5: DRIFT}))
        session.commit()
        install_model(edited,
                      home=get_settings().home)  # a threshold edit: stored rule text is restated
        service.refresh(session=session, settings=get_settings(), as_of=THIRD,
                        metrics=metrics({5: DRIFT}).query("customer_id != 2"))
        session.commit()
        dump: dict[str, Any] = {}
        for table in TABLES:
            rows = session.execute(text(f"SELECT * FROM {table}")).mappings().all()
            dump[table] = sorted(
                (tuple((k, v) for k, v in row.items() if k not in {"id", "override_at"})
                 for row in rows), key=repr)
        dump["explain"] = [service.explain(session=session, settings=get_settings(),
                                           customer_id=c).model_dump()
                           for c in (1, 3, 4, 5)]
        for table in TABLES:
            session.execute(text(f"DELETE FROM {table}"))
        session.execute(text("DELETE FROM relationship_run"))
        session.commit()
    return dump


def test_staged_path_stores_what_the_driver_path_stores(
        sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("adbc_driver_sqlite")
    add_customers(sqlite_engine, list(CUSTOMERS))
    builtin = (BUILTIN_DIR / "journey.toml").read_text()
    edited = tmp_path / "journey.toml"
    edited.write_text(builtin.replace("orders >= 2 and days_since_last_purchase <= 365 and "
                                      "complaints_open = 0\nand (has_preferences",
                                      "orders >= 2 and days_since_last_purchase <= 300 and "
                                      "complaints_open = 0\nand (has_preferences"))
    assert edited.read_text() != builtin
    by_driver = _scenario(sqlite_engine, edited)
    install_model(BUILTIN_DIR / "journey.toml", home=get_settings().home)
    calls: list[str] = []
    start, read = staging.start, staging.read

    def counted_start(*args: Any, **kwargs: Any) -> Any:
        calls.append("start")
        return start(*args, **kwargs)

    def counted_read(*args: Any, **kwargs: Any) -> Any:
        calls.append("read")
        return read(*args, **kwargs)

    pack, read_packed = packed.pack, packed.read

    def counted_pack(*args: Any, **kwargs: Any) -> Any:
        found = pack(*args, **kwargs)
        calls.append("pack" if found is not None else "not packed")
        return found

    def counted_read_packed(*args: Any, **kwargs: Any) -> Any:
        calls.append("read packed")
        return read_packed(*args, **kwargs)

    monkeypatch.setattr(staging, "MIN_ROWS", 0)
    monkeypatch.setattr(staging, "start", counted_start)
    monkeypatch.setattr(staging, "read", counted_read)
    monkeypatch.setattr(packed, "pack", counted_pack)
    monkeypatch.setattr(packed, "read", counted_read_packed)
    staged = _scenario(sqlite_engine, edited)
    # the previous stages are read in-process (one packed read per model and refresh);
    # the stage rows and the moves' updates are packed (integers: keys and codes), the
    # moves (evidence text) and the profiles staged by a child
    assert calls.count("read") == 0 and calls.count("read packed") == 9, calls
    assert calls.count("pack") >= 3 and calls.count("start") == 6, calls
    assert staged == by_driver
    journey = next(s for s in staged["explain"][1]["stages"] if s["model"] == "journey")
    assert journey["evidence"]["rule"].startswith("orders >= 2 and "
                                                  "days_since_last_purchase <= 300")


def test_failed_refresh_stops_its_staging_and_leaves_no_files(
        sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("adbc_driver_sqlite")
    add_customers(sqlite_engine, list(CUSTOMERS))
    folder = Path(str(sqlite_engine.url.database)).parent
    started: list[staging.Pending] = []
    start = staging.start

    def recorded_start(*args: Any, **kwargs: Any) -> Any:
        pending = start(*args, **kwargs)
        assert pending is not None
        started.append(pending)
        return pending

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("profiles failed")

    monkeypatch.setattr(staging, "MIN_ROWS", 0)
    monkeypatch.setattr(staging, "start", recorded_start)
    monkeypatch.setattr(service, "_store_profile", broken)
    with Session(sqlite_engine) as session, pytest.raises(RuntimeError):
        service.refresh(session=session, settings=get_settings(), as_of=FIRST, metrics=metrics())
    assert len(started) == 1  # the stage rows were being staged when the refresh failed
    assert started[0].process.returncode is not None
    assert not list(folder.glob("kithkin-stage-*"))
    monkeypatch.undo()
    with Session(sqlite_engine) as session:  # and the next refresh works
        service.refresh(session=session, settings=get_settings(), as_of=FIRST, metrics=metrics())
        session.commit()
        assert session.execute(text("SELECT count(*) FROM customer_stage")).scalar_one() > 0


def test_engine_failing_after_the_stages_stops_their_staging_and_leaves_no_files(
        sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stage rows are built and staged while the engine computes the profiles: an
    engine error after it handed the stages over still fails the refresh cleanly."""
    pytest.importorskip("adbc_driver_sqlite")
    add_customers(sqlite_engine, list(CUSTOMERS))
    folder = Path(str(sqlite_engine.url.database)).parent
    compute = service.compute
    handed: list[str] = []

    def failing(*args: Any, on_stages: Any, **kwargs: Any) -> Any:
        def then_fail(models: Any, stages: Any) -> None:
            on_stages(models, stages)
            handed.extend(stages)
            raise RuntimeError("profiles failed")
        return compute(*args, on_stages=then_fail, **kwargs)

    monkeypatch.setattr(staging, "MIN_ROWS", 0)
    monkeypatch.setattr(service, "compute", failing)
    with Session(sqlite_engine) as session, pytest.raises(RuntimeError, match="profiles"):
        service.refresh(session=session, settings=get_settings(), as_of=FIRST, metrics=metrics())
    assert handed  # the stages were handed over before the engine failed
    assert not list(folder.glob("kithkin-stage-*"))
    monkeypatch.undo()
    with Session(sqlite_engine) as session:
        service.refresh(session=session, settings=get_settings(), as_of=FIRST, metrics=metrics())
        session.commit()
        assert session.execute(text("SELECT count(*) FROM relationship_profile")).scalar_one() \
            == len(CUSTOMERS)


@pytest.mark.parametrize("staged", [False, True])
def test_unknown_health_is_stored_as_null_not_zero_or_nan(
        store_engine: Engine, staged: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Transaction-only metrics: the characteristics the data cannot show are null in
    the store (PostgreSQL would keep a NaN as a number), and a second refresh with the
    same inputs rewrites nothing (null equals null)."""
    if staged:
        if store_engine.dialect.name != "sqlite":
            pytest.skip("the staged path is SQLite's")
        monkeypatch.setattr(staging, "MIN_ROWS", 0)
    add_customers(store_engine, list(CUSTOMERS))
    frame = metrics().drop(columns=["interactions_90d", "inbound_90d", "outbound_90d",
                                    "two_way_ratio", "last_nps", "complaints",
                                    "complaints_resolved", "active_memberships",
                                    "has_contract", "referrals", "ideas",
                                    "satisfaction_trend", "last_csat"])
    frame["margin"] = None
    frame["categories_bought"] = 0
    frame["has_preferences"] = False
    for when in (FIRST, SECOND):
        with Session(store_engine) as session:
            service.refresh(session=session, settings=get_settings(), as_of=when,
                            metrics=frame, derive_inputs=False)
            session.commit()
    with Session(store_engine) as session:
        rows = session.execute(text(
            "SELECT customer_id, health_trust, health_ongoing_benefit, health_iterative, "
            "health_known, as_of FROM relationship_profile ORDER BY customer_id")).all()
    assert [r[1] for r in rows] == [None] * len(CUSTOMERS)
    assert [r[2] for r in rows] == [None] * len(CUSTOMERS)
    # iterative alone, and mutual for customer 1 (no purchase this year: the customer's side
    # is 0, so both sides' geometric mean is 0 whatever the firm's side)
    assert all(r[3] is not None for r in rows)
    assert {r[0]: r[4] for r in rows} == {c: 2 if c == 1 else 1 for c in CUSTOMERS}
    assert {str(r[5]) for r in rows} == {str(FIRST)}  # unchanged: not rewritten


def test_stage_rows_are_worked_out_and_staged_before_ready_and_written_after(
        sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ready`` (the metrics block landing) is waited for with the moves' evidence built
    and their rows staging (a child), and nothing written yet; after it the moves, the
    updated rows and the deletion of a customer no longer assessed are all written."""
    pytest.importorskip("adbc_driver_sqlite")
    add_customers(sqlite_engine, list(CUSTOMERS))
    with Session(sqlite_engine) as session:
        service.refresh(session=session, settings=get_settings(), as_of=FIRST, metrics=metrics())
        session.commit()
    starts: list[int] = []
    start = staging.start

    def counted_start(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is threading.main_thread():  # not the profiles'
            starts.append(1)
        return start(*args, **kwargs)

    def stored() -> tuple[Any, ...]:
        with sqlite_engine.connect() as conn:  # another connection: what is committed
            return tuple(conn.execute(text(f"SELECT count(*), coalesce(max(id), 0) FROM {t}"))
                         .one() for t in ("customer_stage", "stage_change", "stage_count"))

    before = stored()
    at_ready: list[tuple[int, tuple[Any, ...]]] = []
    monkeypatch.setattr(staging, "MIN_ROWS", 0)
    monkeypatch.setattr(staging, "start", counted_start)
    later = metrics({5: DRIFT}).query("customer_id != 1")
    with Session(sqlite_engine) as session:
        report = service.refresh(session=session, settings=get_settings(), as_of=SECOND,
                                 metrics=later,
                                 ready=lambda: at_ready.append((len(starts), stored())))
        session.commit()
    assert at_ready == [(1, before)]  # the moves staging, nothing written
    assert sum(m.moved_down for m in report.models) > 0
    with Session(sqlite_engine) as session:
        moves = session.execute(text("SELECT customer_id, as_of FROM stage_change "
                                     "WHERE direction != 'new'")).all()
        assert {row[0] for row in moves} == {5} and {str(row[1]) for row in moves} == {
            str(SECOND)}
        assert session.execute(text("SELECT count(*) FROM customer_stage "
                                    "WHERE customer_id = 1")).scalar_one() == 0
