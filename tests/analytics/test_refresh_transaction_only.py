"""`kithkin refresh` on a transaction-only store (customer, date, amount: no cost, no
order lines, no interactions, no memberships), as a firm with only a sales log has.

Issue #12: without costs every margin showed as 0 % (and CLV silently assumed 100 %),
no repeat buyer could become a friend, health scored what the data cannot show as 0,
customers with only zero-amount orders were "strangers", and `kithkin refresh` printed
no fitted parameters. Each assertion below failed on that code.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from kithkin.analytics import refresh
from kithkin.analytics import service as metrics_service
from kithkin.cli.main import app
from kithkin.config import get_settings
from kithkin.customers.models import Customer
from kithkin.dashboard.overview import stage_summary
from kithkin.database.core import session_scope
from kithkin.relationships import cli as relationship_cli
from kithkin.relationships import service as relationship_service
from kithkin.transactions.models import Transaction

AS_OF = date(2024, 12, 31)
START = datetime(2023, 6, 1, 10, tzinfo=UTC)
HEAVY, ZERO = 1, 40  # a frequent buyer; a customer whose only orders cost nothing


def _load(engine: Engine) -> None:
    orders: list[dict[str, object]] = []

    def order(customer: int, day: int, amount: float) -> None:
        orders.append({"source": "shop", "order_id": f"o{len(orders)}",
                       "customer_id": customer, "ordered_at": START + timedelta(days=day),
                       "amount": amount})

    for day in range(0, 570, 6):  # every 6 days up to a week before the as-of
        order(HEAVY, day, 40.0)
    for customer in range(2, ZERO):
        gap, count = (customer % 7 + 3) * 9, customer % 6 + 1
        for k in range(count):
            order(customer, customer * 5 + k * gap, 20.0 + customer + k)
    order(ZERO, 100, 0.0)
    order(ZERO, 300, 0.0)
    with engine.begin() as conn:
        conn.execute(insert(Customer), [{"id": i, "first_name": f"C{i}"}
                                        for i in range(1, ZERO + 1)])
        conn.execute(insert(Transaction), orders)


def test_transaction_only_refresh_is_honest(sqlite_engine: Engine,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relationship_cli.console, "width", 240)  # table cells unwrapped
    _load(sqlite_engine)
    runner = CliRunner()
    shown = runner.invoke(app, ["refresh", "--as-of", AS_OF.isoformat()])
    assert shown.exit_code == 0, shown.output
    output = " ".join(shown.output.split())
    # fitted parameters, their fit and the holdout check are printed
    assert "BG/NBD (purchases)" in output and "alpha" in output
    assert "log-likelihood" in output and "holdout check" in output
    # the margin is unknown, and says so: one assumption (default_margin), not 100 %
    assert "CLV margin: unknown (no cost in the data), assumed 25%" in output
    assert "transaction-only preset" in output
    assert "lacks interactions" in output

    with session_scope(sqlite_engine) as session:
        run = metrics_service.get_run(session=session, as_of=AS_OF)
        params = run.model_params or {}
        assert (params["margin"], params["margin_source"]) == (0.25, "assumed")
        assert params["holdout"]["customers"] >= 10 and "error" not in params["holdout"]
        assert params["holdout"]["by_frequency"]

    with Session(sqlite_engine) as session:
        journey = relationship_service.current_stages(session=session, model="journey")
        stages = dict(zip(journey["customer_id"], journey["stage"], strict=True))
        # repeat buyers with strong RFM become friends (the preset's rule)
        assert stages[HEAVY] in {"friend", "partner"}
        assert sum(stage in {"friend", "partner"} for stage in stages.values()) >= 5
        # zero-amount-only customers transacted: acquaintances, not strangers
        assert stages[ZERO] == "acquaintance"
        assert "stranger" not in stages.values()

        heavy = relationship_service.explain(session=session, settings=get_settings(),
                                             customer_id=HEAVY)
        assert heavy.health is not None
        # what a sales log cannot show is unknown, not 0; the score averages the rest
        assert heavy.health.trust is None and heavy.health.interactive is None
        assert heavy.health.ongoing_benefit is None  # no cost: no measured margin
        assert heavy.health.iterative is not None and heavy.health.iterative > 50
        assert heavy.health.known == 1 and heavy.health.overall == heavy.health.iterative
        assert heavy.value_tier != "below_zero"

        levels = relationship_service.list_segment_levels(session=session)
        assert levels and all(row.margin_known_share == 0.0 for row in levels)
        assert all(row.margin_rate == 0.25 for row in levels)  # the assumption, stated

    levels_shown = runner.invoke(app, ["levels", "list"])
    text = " ".join(levels_shown.output.split())
    assert "unknown (assumed 25%)" in text and "0.0%" not in text
    assert "segments lack margin data" in text

    explained = runner.invoke(app, ["customers", "explain", str(HEAVY)])
    assert "trust unknown" in explained.output and "(1 of 7 known)" in explained.output


def test_refresh_relationships_sees_the_same_preset_from_the_run_record(
        sqlite_engine: Engine) -> None:
    _load(sqlite_engine)
    result = refresh.run(settings=get_settings(), as_of=AS_OF, store_engine=sqlite_engine,
                         options=None)
    assert result.relationships is not None and result.relationships.evidence is not None
    evidence = result.relationships.evidence
    assert evidence.presets == {"journey": "transaction_only"}
    assert evidence.signals["transactions"] and not evidence.signals["interactions"]
    assert not evidence.signals["costs"] and evidence.default_margin == 0.25
    with Session(sqlite_engine) as session:
        summary = stage_summary(session=session, settings=get_settings())
    assert summary is not None
    journey = next(m for m in summary[1] if m.model == "journey")
    assert "transaction-only preset" in journey.title  # the overview names the preset
    shown = CliRunner().invoke(app, ["stages", "show", "journey"])
    assert shown.exit_code == 0, shown.output
    assert "--preset transaction_only" in " ".join(shown.output.split())
    preset = CliRunner().invoke(app, ["stages", "show", "journey", "--preset",
                                      "transaction_only"])
    assert "rfm_f" in preset.output and "transaction-only preset" in preset.output


def test_holdout_check_without_enough_history_records_why() -> None:
    import pandas as pd

    from kithkin.analytics import holdout

    split = pd.DataFrame({"frequency_cal": [1.0, 0.0], "recency_cal": [5.0, 0.0],
                          "T_cal": [10.0, 3.0], "frequency_holdout": [1.0, 0.0],
                          "duration_holdout": [90.0, 90.0]})
    record = holdout.evaluate(split, as_of=AS_OF, holdout_days=90)
    assert record["customers"] == 2 and record["calibration_end"] == "2024-10-02"
    assert "at least 10" in record["error"] and "predicted_mean" not in record
