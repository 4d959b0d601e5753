"""The stage history keeps real moves only; first assignments live on the current row.

A first refresh writes one current row per customer and model and no history; a later
one writes exactly the moves; a refresh run again on its date writes nothing. The reports
rebuild each customer's timeline from the moves and the current rows, and give what a
history holding every first assignment as a ``new`` change gave (the previous design,
rebuilt here from the stages each refresh assigned)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from kithkin.config import get_settings
from kithkin.dashboard.overview import stage_summary
from kithkin.relationships import reports, service
from kithkin.relationships.models import CustomerStage, StageChange
from kithkin.relationships.reports import CHANGE_COLUMNS, FIRST_COLUMNS, timeline

from .crafted import CUSTOMERS, DRIFT, add_customers, metrics, stage_model

FIRST, SECOND, THIRD = date(2026, 1, 1), date(2026, 4, 1), date(2026, 7, 1)
MODELS = ("journey", "ladder", "pyramid")


def _stage_rows(session: Session) -> list[tuple[Any, ...]]:
    return sorted(tuple(row) for row in session.execute(select(
        CustomerStage.customer_id, CustomerStage.model, CustomerStage.stage,
        CustomerStage.rank, CustomerStage.since, CustomerStage.as_of,
        CustomerStage.evidence, CustomerStage.assigned_at, CustomerStage.first_stage,
        CustomerStage.first_rank)).all())


def _history_rows(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(StageChange)).scalar_one())


def test_a_first_refresh_writes_current_rows_and_no_history(store_engine: Engine) -> None:
    add_customers(store_engine, list(CUSTOMERS))
    with Session(store_engine) as session:
        report = service.refresh(session=session, settings=get_settings(), as_of=FIRST,
                                 metrics=metrics())
        session.commit()
        assert {s.model: s.new for s in report.models} == dict.fromkeys(MODELS, 5)
        assert _history_rows(session) == 0
        rows = _stage_rows(session)
        assert sorted((r[0], r[1]) for r in rows) == sorted(
            (c, m) for c in CUSTOMERS for m in MODELS)  # one per customer and model
        for (_, _, stage, rank, since, as_of, _, assigned_at, first_stage,
             first_rank) in rows:
            assert since == as_of == assigned_at == FIRST
            assert (first_stage, first_rank) == (stage, rank)

        # the same refresh again on its date: nothing new, nothing rewritten
        service.refresh(session=session, settings=get_settings(), as_of=FIRST, metrics=metrics())
        session.commit()
        assert _history_rows(session) == 0
        assert _stage_rows(session) == rows


def test_a_later_refresh_writes_exactly_the_moves(store_engine: Engine) -> None:
    add_customers(store_engine, [*CUSTOMERS, 6])
    with Session(store_engine) as session:
        service.refresh(session=session, settings=get_settings(), as_of=FIRST, metrics=metrics())
        session.commit()
        before = _stage_rows(session)
        newcomer = metrics().query("customer_id == 2").assign(customer_id=6)
        report = service.refresh(session=session, settings=get_settings(), as_of=SECOND,
                                 metrics=pd.concat(
            [metrics({5: DRIFT}), newcomer], ignore_index=True))
        session.commit()
        moves = session.execute(select(
            StageChange.customer_id, StageChange.model, StageChange.from_stage,
            StageChange.to_stage, StageChange.direction, StageChange.as_of)
            .order_by(StageChange.model)).all()
        assert [tuple(m) for m in moves] == [
            (5, "journey", "friend", "acquaintance", "down", SECOND),
            (5, "ladder", "client", "customer", "down", SECOND)]
        assert sum(s.moved_up + s.moved_down for s in report.models) == len(moves)
        assert {s.model: s.new for s in report.models} == dict.fromkeys(MODELS, 1)
        after = {(r[0], r[1]): r for r in _stage_rows(session)}
        # the newcomer: a current row with its first assignment, no history
        assert after[(6, "journey")][2:] == (
            "acquaintance", 1, SECOND, SECOND, after[(6, "journey")][6], SECOND,
            "acquaintance", 1)
        # the mover keeps its first assignment; the others are untouched
        assert after[(5, "journey")][4] == SECOND
        assert after[(5, "journey")][7:] == (FIRST, "friend", 2)
        assert {k: v for k, v in after.items() if k[0] not in (5, 6)} == {
            (r[0], r[1]): r for r in before if r[0] != 5}
        journey = next(s for s in stage_summary(session=session,
                                                settings=get_settings())[1]  # type: ignore[index]
                       if s.model == "journey")
        assert journey.moves == {"down": 1, "new": 1}

        # that refresh again on its date (same inputs): no move, no row rewritten
        history = session.execute(select(StageChange.id, StageChange.as_of)).all()
        again = service.refresh(session=session, settings=get_settings(), as_of=SECOND,
                                metrics=pd.concat([metrics({5: DRIFT}), newcomer],
                                                  ignore_index=True))
        session.commit()
        assert session.execute(select(StageChange.id, StageChange.as_of)).all() == history
        assert {(r[0], r[1]): r for r in _stage_rows(session)} == after
        assert all(s.new == s.moved_up == s.moved_down == 0 for s in again.models)


def _old_history(snapshots: list[tuple[date, dict[int, str]]],
                 ranks: dict[str, int]) -> pd.DataFrame:
    """The history as the previous design stored it: a ``new`` change whenever a
    customer gets a stage without having one, a move whenever it changes."""
    rows, before = [], {}
    for as_of, stages in snapshots:
        for customer, stage in sorted(stages.items()):
            old = before.get(customer)
            if old is None:
                rows.append((customer, as_of, None, stage, None, ranks[stage], "new"))
            elif old != stage:
                rows.append((customer, as_of, old, stage, ranks[old], ranks[stage],
                             "up" if ranks[stage] > ranks[old] else "down"))
        before = stages
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def _comparable(changes: pd.DataFrame) -> list[tuple[Any, ...]]:
    ordered = changes.sort_values(["customer_id", "as_of"], kind="stable")
    return [(int(c), a, None if pd.isna(f) else f, t, d) for c, a, f, t, d in zip(
        ordered["customer_id"], ordered["as_of"], ordered["from_stage"],
        ordered["to_stage"], ordered["direction"], strict=True)]


def test_reports_read_as_before_with_customers_leaving_and_returning(
        store_engine: Engine) -> None:
    """Customer 1 leaves the metrics at the second refresh and comes back at the third;
    customer 5 moves down, then up again."""
    add_customers(store_engine, list(CUSTOMERS))
    runs = [(FIRST, metrics()), (SECOND, metrics({5: DRIFT}).query("customer_id != 1")),
            (THIRD, metrics({1: {"orders": 1, "days_since_last_purchase": 5}}))]
    with Session(store_engine) as session:
        snapshots = []
        for as_of, frame in runs:
            service.refresh(session=session, settings=get_settings(), as_of=as_of, metrics=frame)
            session.commit()
            current = service.current_stages(session=session, model="journey")
            snapshots.append((as_of, dict(zip(current["customer_id"], current["stage"],
                                              strict=True))))
        ranks = {name: rank for rank, name in enumerate(
            stage_model("journey").stage_names)}
        expected = _old_history(snapshots, ranks)
        stored = reports.load_changes(session=session, model="journey")
        assert _comparable(stored) == _comparable(expected)
        # customer 1's first spell is kept in the history when its current row went
        kept = session.execute(select(StageChange.as_of, StageChange.to_stage,
                                      StageChange.direction).where(
            StageChange.customer_id == 1, StageChange.model == "journey")).all()
        assert [tuple(k) for k in kept] == [(FIRST, "stranger", "new")]
        stages = stage_model("journey").stage_names
        for start, end in ((FIRST, SECOND), (SECOND, THIRD), (FIRST, THIRD)):
            counts, rates = reports.transitions(session=session, model=stage_model("journey"),
                                                start=start, end=end)
            old_counts, old_rates = reports.transition_matrix(expected, stages, start, end)
            pd.testing.assert_frame_equal(counts, old_counts)
            pd.testing.assert_frame_equal(rates, old_rates)
        for end in (FIRST, SECOND, THIRD):
            pd.testing.assert_frame_equal(
                reports.conversion_funnel(session=session, model=stage_model("journey"), end=end),
                reports.funnel(expected, stages, end))
        pd.testing.assert_frame_equal(
            reports.stage_durations(session=session, model=stage_model("journey")),
            reports.time_in_stage(expected, stages, THIRD))
        down = reports.moved_down(session=session, model="journey")
        assert down.empty  # the latest refresh moved customer 5 back up
        explained = service.explain(session=session, settings=get_settings(), customer_id=5)
        journey = [(c.as_of, c.from_stage, c.to_stage, c.direction)
                   for c in explained.history if c.model == "journey"]
        assert journey == [(THIRD, "acquaintance", "friend", "up"),
                           (SECOND, "friend", "acquaintance", "down"),
                           (FIRST, None, "friend", "new")]
        assert next(s for s in explained.stages if s.model == "journey").assigned_at == FIRST
        assert session.execute(text("SELECT count(*) FROM stage_change WHERE "
                                    "direction = 'new' AND customer_id <> 1")).scalar_one() == 0


def test_timeline_puts_first_assignments_before_same_day_moves() -> None:
    moves = pd.DataFrame([(7, FIRST, "a", "b", 0, 1, "up"), (8, SECOND, "b", "a", 1, 0, "down")],
                         columns=CHANGE_COLUMNS)
    firsts = pd.DataFrame([(8, FIRST, "b", 1), (7, FIRST, "a", 0), (9, THIRD, "a", 0)],
                          columns=FIRST_COLUMNS)
    found = timeline(moves, firsts)
    assert list(zip(found["customer_id"], found["as_of"], found["direction"],
                    strict=True)) == [(8, FIRST, "new"), (7, FIRST, "new"), (7, FIRST, "up"),
                                      (8, SECOND, "down"), (9, THIRD, "new")]
    assert timeline(moves.iloc[:0], firsts.iloc[:0]).columns.tolist() == CHANGE_COLUMNS
