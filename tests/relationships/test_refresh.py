"""Refreshes against the store: history of moves, explain, levels and overrides."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kithkin.config import get_settings
from kithkin.errors import NotFoundError, ValidationError
from kithkin.prospects.models import Prospect
from kithkin.relationships import reports, service
from kithkin.relationships.definitions import BUILTIN_DIR
from kithkin.relationships.models import (
    CustomerStage,
    RelationshipProfile,
    StageChange,
    StageCount,
)
from kithkin.relationships.workspace import install_model

from .crafted import CUSTOMERS, DRIFT, add_customers, metrics, stage_model

FIRST, SECOND = date(2026, 1, 1), date(2026, 4, 1)


def _two_refreshes(engine: Engine) -> None:
    add_customers(engine, list(CUSTOMERS))
    with Session(engine) as session:
        first = service.refresh(session=session, settings=get_settings(), as_of=FIRST,
                                metrics=metrics())
        session.commit()
        second = service.refresh(session=session, settings=get_settings(), as_of=SECOND,
                                 metrics=metrics({5: DRIFT}))
        session.commit()
    journey = {s.model: s for s in first.models}["journey"]
    assert journey.distribution == {"stranger": 1, "acquaintance": 1, "friend": 2,
                                    "partner": 1}
    assert journey.new == 5 and journey.moved_down == 0
    moved = {s.model: (s.new, s.moved_up, s.moved_down) for s in second.models}
    assert moved == {"journey": (0, 0, 1), "ladder": (0, 0, 1), "pyramid": (0, 0, 0)}
    assert second.moved_down == 2


def test_two_refreshes_record_a_downward_move(store_engine: Engine) -> None:
    _two_refreshes(store_engine)
    with Session(store_engine) as session:
        history = session.execute(
            select(StageChange.as_of, StageChange.from_stage, StageChange.to_stage,
                   StageChange.direction)
            .where(StageChange.customer_id == 5, StageChange.model == "journey")
            .order_by(StageChange.as_of)).all()
        assert [tuple(h) for h in history] == [(SECOND, "friend", "acquaintance", "down")]
        rows = {r.customer_id: r for r in session.execute(select(CustomerStage).where(
            CustomerStage.model == "journey")).scalars()}
        assert {c: r.since for c, r in rows.items()} == {1: FIRST, 2: FIRST, 3: FIRST,
                                                         4: FIRST, 5: SECOND}
        assert (rows[5].assigned_at, rows[5].first_stage, rows[5].first_rank) == (
            FIRST, "friend", 2)
        timeline = reports.load_changes(session=session, model="journey")
        mine = timeline[timeline["customer_id"] == 5].fillna({"from_stage": "-"})
        assert mine[["as_of", "from_stage", "to_stage", "direction"]].values.tolist() == [
            [FIRST, "-", "friend", "new"], [SECOND, "friend", "acquaintance", "down"]]
        down = reports.moved_down(session=session)
        assert down[["customer_id", "model", "from_stage", "to_stage"]].values.tolist() == [
            [5, "journey", "friend", "acquaintance"], [5, "ladder", "client", "customer"]]
        table = reports.distribution(session=session, model=stage_model("journey"))
        assert table.loc[SECOND].tolist() == [1, 2, 1, 1]
        current = service.current_stages(session=session, model="journey",
                                         customer_ids=[4, 5])
        assert current[["customer_id", "stage", "since"]].values.tolist() == [
            [4, "partner", FIRST], [5, "acquaintance", SECOND]]
        durations = reports.stage_durations(session=session,
                                            model=stage_model("journey")).set_index(
            "stage")
        assert durations.loc["friend", "completed_spells"] == 1  # customer 5, 90 days
        assert durations.loc["friend", "mean_days_completed"] == 90.0


def test_explain_says_why(sqlite_engine: Engine) -> None:
    _two_refreshes(sqlite_engine)
    with Session(sqlite_engine) as session:
        found = service.explain(session=session, settings=get_settings(), customer_id=5)
        with pytest.raises(NotFoundError):
            service.explain(session=session, settings=get_settings(), customer_id=99)
    journey = next(s for s in found.stages if s.model == "journey")
    assert (journey.stage, journey.goal, journey.goal_metric) == ("acquaintance", "satisfy",
                                                                  "last_csat")
    assert journey.evidence == {"stage": "acquaintance",
                                "rule": "orders >= 1 or revenue is not null",
                                "values": {"orders": 4, "revenue": 200.0}}
    down = next(c for c in found.history if c.model == "journey")
    assert (down.from_stage, down.to_stage, down.direction) == ("friend", "acquaintance",
                                                                 "down")
    assert down.evidence["values"] == {"orders": 4, "revenue": 200.0}
    assert down.evidence["left"]["stage"] == "friend"
    assert down.evidence["left"]["values"]["days_since_last_purchase"] == 400
    assert down.evidence["left"]["values"]["complaints_open"] == 1
    assert found.health is not None and found.health.trust == 0.0
    assert found.health.evidence["days_since_last_purchase"] == 400
    assert found.health.evidence["p_alive"] == 0.2
    assert found.bonds is not None and found.bonds.switching_barrier == 0.0
    # net margin 30 - 5 x 1 complaint; potential (Q75 150 - clv 80) x p_alive 0.2
    assert (found.value_tier, found.net_margin, found.potential) == ("ordinary", 25.0, 14.0)


def test_override_wins_and_survives_refresh(sqlite_engine: Engine) -> None:
    add_customers(sqlite_engine, list(CUSTOMERS))
    with Session(sqlite_engine) as session:
        service.refresh(session=session, settings=get_settings(), as_of=FIRST, metrics=metrics())
        row = service.get_segment_level(session=session, kind="stage:journey",
                                        segment="friend")
        # 2 customers (few), margin 90 / 500 = 18 % (medium): proactive
        assert (row.customers, row.size_class, row.margin_class, row.recommended_level) == (
            2, "few", "medium", "proactive")
        service.set_level_override(session=session, kind="stage:journey", segment="friend",
                                   level="partnership", by="ana", reason="key accounts")
        session.commit()
        service.refresh(session=session, settings=get_settings(), as_of=SECOND,
                        metrics=metrics({5: DRIFT}))
        session.commit()
        row = service.get_segment_level(session=session, kind="stage:journey",
                                        segment="friend")
        assert (row.customers, row.recommended_level) == (1, "proactive")
        assert (row.level, row.override_by, row.override_reason) == (
            "partnership", "ana", "key accounts")
        assert row.as_of == SECOND and row.override_at is not None
        service.clear_level_override(session=session, kind="stage:journey", segment="friend")
        assert row.level == "proactive"
        with pytest.raises(ValidationError, match="unknown level"):
            service.set_level_override(session=session, kind="stage:journey",
                                       segment="friend", level="bestie", by="ana")
        kinds = {r.kind for r in service.list_segment_levels(session=session)}
        assert kinds == {"stage:journey", "stage:ladder", "stage:pyramid", "rfm_segment",
                         "value_tier"}


def test_history_only_moves_forward(sqlite_engine: Engine) -> None:
    add_customers(sqlite_engine, list(CUSTOMERS))
    with Session(sqlite_engine) as session:
        service.refresh(session=session, settings=get_settings(), as_of=SECOND, metrics=metrics())
        with pytest.raises(ValidationError, match="only moves forward"):
            service.refresh(session=session, settings=get_settings(), as_of=FIRST,
                            metrics=metrics())


def test_user_segments_from_settings(sqlite_engine: Engine, workspace: object) -> None:
    home = get_settings().home
    home.mkdir(parents=True, exist_ok=True)
    (home / "relationships.toml").write_text(
        'active_models = ["journey"]\n[segments]\nbig = "revenue >= 300"\n')
    add_customers(sqlite_engine, list(CUSTOMERS))
    with Session(sqlite_engine) as session:
        report = service.refresh(session=session, settings=get_settings(), as_of=FIRST,
                                 metrics=metrics())
        big = service.get_segment_level(session=session, kind="rule:big", segment="big")
    assert [m.model for m in report.models] == ["journey"]
    assert (big.customers, big.margin_rate) == (2, 0.1615)  # (60 + 150) / 1300


def test_a_stage_removed_between_refreshes(sqlite_engine: Engine, tmp_path: Path) -> None:
    add_customers(sqlite_engine, list(CUSTOMERS))
    builtin = (BUILTIN_DIR / "journey.toml").read_text()
    edited = tmp_path / "journey.toml"
    edited.write_text(builtin[:builtin.rindex("[[stages]]")])  # drop the partner stage
    with Session(sqlite_engine) as session:
        service.refresh(session=session, settings=get_settings(), as_of=FIRST, metrics=metrics())
        install_model(edited, home=get_settings().home)
        report = service.refresh(session=session, settings=get_settings(), as_of=SECOND,
                                 metrics=metrics())
        change = session.execute(select(StageChange).where(
            StageChange.customer_id == 4, StageChange.as_of == SECOND)).scalars().one()
    assert {m.model: m.moved_down for m in report.models}["journey"] == 1
    assert (change.from_stage, change.to_stage, change.direction) == ("partner", "friend",
                                                                      "down")
    assert "left" not in json.loads(change.evidence)


def test_a_refresh_rewrites_only_changed_rows(store_engine: Engine) -> None:
    """Unchanged rows keep their stored as-of (explain reports the latest run), changed
    rows are updated in place, and a customer absent from the metrics loses their rows."""
    add_customers(store_engine, list(CUSTOMERS))
    with Session(store_engine) as session:
        service.refresh(session=session, settings=get_settings(), as_of=FIRST, metrics=metrics())
        session.commit()
        ids_before = dict(session.execute(select(CustomerStage.customer_id, CustomerStage.id)
                                          .where(CustomerStage.model == "journey")).all())
        without_one = metrics({5: DRIFT}).query("customer_id != 1")
        service.refresh(session=session, settings=get_settings(), as_of=SECOND, metrics=without_one)
        session.commit()
        rows = {r.customer_id: r for r in session.execute(select(CustomerStage).where(
            CustomerStage.model == "journey")).scalars()}
        assert sorted(rows) == [2, 3, 4, 5]
        assert {c: r.as_of for c, r in rows.items()} == {2: FIRST, 3: FIRST, 4: FIRST,
                                                         5: SECOND}
        assert rows[5].id == ids_before[5] and rows[5].stage == "acquaintance"
        assert json.loads(rows[5].evidence)["stage"] == "acquaintance"
        explained = service.explain(session=session, settings=get_settings(), customer_id=2)
        assert {s.as_of for s in explained.stages} == {SECOND}
        assert explained.as_of == SECOND
        profiles = dict(session.execute(select(RelationshipProfile.customer_id,
                                               RelationshipProfile.as_of)).all())
        assert sorted(profiles) == [2, 3, 4, 5] and profiles[5] == SECOND
        assert profiles[4] == FIRST  # same scores as before: not rewritten


def test_open_prospects_count_in_the_lowest_stage(sqlite_engine: Engine) -> None:
    """Strangers without a customer row: unconverted prospects join the stage counts of
    models whose lowest stage includes prospects (journey, ladder), not the pyramid."""
    add_customers(sqlite_engine, list(CUSTOMERS))
    with Session(sqlite_engine) as session:
        session.add_all([Prospect(source="crm", external_id="a"),
                         Prospect(source="crm", external_id="b"),
                         Prospect(source="crm", external_id="c", converted_customer_id=1)])
        session.flush()
        report = service.refresh(session=session, settings=get_settings(), as_of=FIRST,
                                 metrics=metrics())
        session.commit()
        counted = {s.model: s.distribution for s in report.models}
        assert counted["journey"]["stranger"] == 1 + 2
        assert counted["ladder"]["prospect"] == 1 + 2
        assert counted["pyramid"]["transactional"] == sum(
            1 for _ in CUSTOMERS) - sum(v for k, v in counted["pyramid"].items()
                                        if k != "transactional")
        stored = session.execute(select(StageCount.customers).where(
            StageCount.model == "journey", StageCount.stage == "stranger")).scalar_one()
        assert stored == 3
        assert reports.distribution(session=session,
                                    model=stage_model("journey")).loc[FIRST].tolist()[
            0] == 3
        # one stranger count, shown with its parts: 1 customer + 2 open prospects
        assert reports.prospects_in_lowest_stage(
            session=session, model=stage_model("journey")) == 2
        assert reports.prospects_in_lowest_stage(
            session=session, model=stage_model("pyramid")) == 0
        funnel = reports.conversion_funnel(session=session, model=stage_model("journey"))
        assert funnel.loc[0, "reached"] + 2 == len(CUSTOMERS) + 2
