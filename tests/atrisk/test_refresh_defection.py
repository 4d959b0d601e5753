"""`kithkin refresh` end to end: model choice recorded, stages with dated evidence,
exit-interview tasks exactly once across repeated and overlapping refreshes."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, func, select

from kithkin.analytics import refresh
from kithkin.analytics.models import CustomerMetric, MetricsRun
from kithkin.atrisk import service
from kithkin.atrisk.models import DefectionChange
from kithkin.config import get_settings
from kithkin.database.core import session_scope
from kithkin.tasks.models import Task
from tests.atrisk import crafted_store

T0, T1, T2 = date(2024, 5, 31), date(2024, 6, 30), date(2024, 7, 7)


def _metric(engine: Engine, as_of: date, customer: int) -> CustomerMetric:
    with session_scope(engine) as session:
        row = session.scalars(select(CustomerMetric).where(
            CustomerMetric.as_of == as_of, CustomerMetric.customer_id == customer)).one()
        session.expunge(row)
        return row


def _tasks(engine: Engine) -> list[tuple[int | None, str | None]]:
    with session_scope(engine) as session:
        return [(t.customer_id, t.dedupe_key) for t in session.scalars(
            select(Task).where(Task.reason == "retention:exit_interview"))]


@pytest.fixture
def refreshed(sqlite_engine: Engine) -> Engine:
    crafted_store.load(sqlite_engine)
    for as_of in (T0, T1):
        refresh.run(settings=get_settings(), as_of=as_of, store_engine=sqlite_engine)
    return sqlite_engine


def test_refresh_records_every_candidate_and_the_choice(refreshed: Engine) -> None:
    with session_scope(refreshed) as session:
        run = session.scalars(select(MetricsRun).where(MetricsRun.as_of == T1)).one()
        params = run.model_params or {}
    choice = params["model_choice"]
    assert set(choice["candidates"]) == {"bg_nbd", "mbg_nbd", "pareto_nbd"}
    for record in choice["candidates"].values():
        assert "mean_absolute_error" in record and "auc" in record
    assert choice["chosen"] == params["purchase_model"]
    assert params["holdout"]["model"] in {"BetaGeo", "ModifiedBetaGeo", "ParetoNBD"}
    assert params["at_risk"]["training_customers"] > 50 and "coefficients" in params["at_risk"]


def test_silence_contract_and_win_back_are_dated_with_their_rule(refreshed: Engine) -> None:
    rita = _metric(refreshed, T1, 1002)
    assert (rita.defection_stage, rita.defection_since) == ("defected", date(2024, 6, 10))
    carl = _metric(refreshed, T1, 1003)
    assert (carl.defection_stage, carl.defection_since) == ("defected", date(2024, 6, 1))
    wendy = _metric(refreshed, T1, 1005)
    assert (wendy.defection_stage, wendy.defection_since) == ("won_back", date(2024, 6, 20))
    with session_scope(refreshed) as session:
        changes = {(c.customer_id, c.as_of): (c.rule, c.to_stage) for c in
                   session.scalars(select(DefectionChange))}
        status = service.status(session=session, customer_id=1005)
        listed = service.at_risk_list(session=session, stage="defected", limit=500)
    assert changes[(1003, T1)] == ("membership_ended", "defected")
    assert changes[(1005, T0)] == ("silence", "defected")  # on 2024-04-29
    assert changes[(1005, T1)] == ("purchase_after_defection", "won_back")
    assert [c.to_stage for c in status.changes] == ["won_back", "defected"]
    assert status.changes[1].changed_on == date(2024, 4, 29)
    assert {1002, 1003} <= {row.customer_id for row in listed.rows}
    assert 1005 not in {row.customer_id for row in listed.rows}
    values = [row.value_at_risk for row in listed.rows if row.value_at_risk is not None]
    assert values == sorted(values, reverse=True)


def test_a_one_time_buyer_silent_for_a_year_is_not_shown_as_certainly_alive(
        refreshed: Engine) -> None:
    olga = _metric(refreshed, T1, 1004)
    assert olga.defection_stage == "defected"
    assert olga.at_risk is not None and olga.at_risk > 0.5
    with session_scope(refreshed) as session:
        shown = service.status(session=session, customer_id=1004).p_alive
    # either the chosen model gives a real probability, or no figure is shown at all
    assert shown.value is None or shown.value < 0.99
    assert shown.model in {"BG/NBD", "MBG/NBD", "Pareto/NBD"}


def test_the_exit_interview_task_is_created_once_across_overlapping_refreshes(
        refreshed: Engine) -> None:
    # Rita and Carl defected within 90 days of T1, Wendy within 90 days of T0 (before
    # she came back), all with revenue >= 100; Sam's departure (2023) is too old to ask
    first = _tasks(refreshed)
    named = {c for c, _ in first if c is not None and c > 1000}
    assert named == {1002, 1003, 1005}  # (background customers who left recently have theirs)
    assert len({k for _, k in first}) == len(first)
    assert ("exit_interview:1002:2024-06-10") in {k for _, k in first}
    # the same refresh again, then a later one that still sees both as defected
    refresh.run(settings=get_settings(), as_of=T1, store_engine=refreshed)
    refresh.run(settings=get_settings(), as_of=T2, store_engine=refreshed)
    assert sorted(_tasks(refreshed)) == sorted(first)
    # two refreshes that both found the departure (e.g. run at once from the same
    # previous state): the defection day keys the task, so still one
    with session_scope(refreshed) as session:
        session.add(DefectionChange(customer_id=1002, as_of=T2, changed_on=date(2024, 6, 10),
                                    from_stage="at_risk", to_stage="defected", rule="silence",
                                    evidence="{}"))
        session.flush()
        import pandas as pd
        created = service.create_exit_interviews(
            session=session, settings=get_settings(), as_of=T2,
            revenue=pd.Series({1002: 1000.0}))
        # (the playbooks that run after each refresh open tasks of their own)
        count = session.scalar(select(func.count()).select_from(Task).where(
            Task.reason == "retention:exit_interview"))
    assert created == 0 and count == len(first)
