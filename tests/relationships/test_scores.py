"""Stages, evidence, health and bonds of the crafted customers, computed by hand."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from kithkin.relationships import bonds, health, signals
from kithkin.relationships.assignment import assign
from kithkin.relationships.engine import PROFILE_INPUTS, compute
from kithkin.relationships.evidence import values_json
from kithkin.relationships.workspace import RelationshipConfig

from .crafted import DRIFT, metrics, stage_model


@pytest.mark.parametrize(("model", "expected", "after_drift"), [
    ("journey", ["stranger", "acquaintance", "friend", "partner", "friend"], "acquaintance"),
    ("ladder", ["prospect", "customer", "supporter", "partner", "client"], "customer"),
    ("pyramid", ["transactional", "transactional", "responsive", "transformational",
                 "transactional"], "transactional"),
])
def test_stages_of_crafted_customers(model: str, expected: list[str],
                                     after_drift: str) -> None:
    assigned = assign(stage_model(model), metrics())
    assert assigned["stage"].tolist() == expected
    drifted = assign(stage_model(model), metrics({5: DRIFT}))
    assert drifted["stage"].tolist() == [*expected[:4], after_drift]


def test_evidence_names_the_rule_and_the_values_it_read() -> None:
    assigned = assign(stage_model("journey"), metrics()).set_index("customer_id")
    friend = json.loads(assigned.loc[5, "evidence"])
    assert friend["stage"] == "friend"
    assert friend["rule"].startswith("orders >= 2 and days_since_last_purchase <= 365")
    assert friend["values"] == {"orders": 4, "days_since_last_purchase": 60,
                                "complaints_open": 0, "has_preferences": None,
                                "interactions_90d": 0, "categories_bought": 2}
    stranger = json.loads(assigned.loc[1, "evidence"])
    assert stranger == {"stage": "stranger", "rule": "true", "values": {}}


def test_health_scorecard_by_hand() -> None:
    card = health.scorecard(metrics()).set_index("customer_id")
    columns = [f"health_{c}" for c in health.CHARACTERISTICS] + ["health_overall"]
    # customer 4 (partner): see docs/relationships.md for each formula
    # (without category spend the purchase profile's distinctiveness is unknown, so
    # "unique" is the personal context alone: 2 of 3 signals)
    assert card.loc[4, columns].tolist() == [100.0, 62.5, 100.0, 63.6, 83.3, 66.7, 62.0,
                                             76.9]
    # customer 3 (friend): no firm-held knowledge, no commitment
    assert card.loc[3, columns].tolist() == [57.7, 75.0, 44.1, 77.5, 16.7, 0.0, 23.3, 42.0]
    # customer 1 (stranger): nothing yet; no revenue, so no margin: benefit unknown
    stranger = card.loc[1, columns]
    assert stranger.isna().tolist() == [False, False, False, True, False, False, False,
                                        False]
    assert stranger.dropna().tolist() == [0.0] * 7
    assert card.loc[1, "health_known"] == 6 and card.loc[4, "health_known"] == 7
    profile = compute(metrics(), models=[], config=RelationshipConfig()).profile
    values = json.loads(profile.set_index("customer_id").loc[4, "evidence"])
    evidence = dict(zip(PROFILE_INPUTS, values, strict=True))
    assert evidence["last_nps"] == 10 and evidence["complaints_resolved"] == 1
    assert evidence["has_preferences"] is True and evidence["integrations"] is None


def test_distinct_purchase_profile_raises_uniqueness() -> None:
    frame = metrics().assign(profile_distinctiveness=[0, 0, 0, 0.5, 0])
    card = health.scorecard(frame).set_index("customer_id")
    assert card.loc[4, "health_unique"] == pytest.approx(26.7 + 30.0, abs=0.05)


def test_bond_inventory_and_switching_barrier() -> None:
    frame = pd.DataFrame([
        {"customer_id": 1},
        {"customer_id": 2, "has_loyalty": True, "bundles_bought": 2, "has_price_lock": True,
         "has_account_manager": True, "interactions_90d": 2, "two_way_ratio": 0.5,
         "community_interactions": 1, "has_preferences": True, "customized_orders": 1,
         "ideas": 3, "integrations": 1, "has_contract": True, "shared_processes": 2},
        {"customer_id": 3, "membership_tier": "gold", "has_subscription": True,
         "interactions_90d": 5, "two_way_ratio": 0.0, "has_contract": True},
        {"customer_id": 4, "referrals": 2},
    ])
    result = bonds.inventory(frame).set_index("customer_id")
    columns = ["bond_financial", "bond_social", "bond_customization", "bond_structural",
               "switching_barrier"]
    assert result.loc[1, columns].tolist() == [0.0] * 5
    assert result.loc[2, columns].tolist() == [100.0] * 5
    # tier (rewards) + subscription (stable price) = 2/3 financial; one-way contact is no
    # social bond; the contract is 1/3 structural. 0.15*66.7 + 0.40*33.3 = 23.3
    assert result.loc[3, columns].tolist() == [66.7, 0.0, 0.0, 33.3, 23.3]
    # referring others is a bond among customers: 1/3 social, 0.20*33.3 = 6.7
    assert result.loc[4, columns].tolist() == [0.0, 33.3, 0.0, 0.0, 6.7]


def test_crafted_partner_bonds() -> None:
    result = bonds.inventory(metrics()).set_index("customer_id")
    assert result.loc[4, ["bond_financial", "bond_social", "bond_customization",
                          "bond_structural", "switching_barrier"]].tolist() == [
        0.0, 33.3, 66.7, 33.3, 36.7]


def _transaction_only() -> pd.DataFrame:
    """A sales log's metrics: orders and RFM, nothing the firm learnt otherwise."""
    return pd.DataFrame([
        {"customer_id": 1, "orders": 201, "frequency": 150, "tenure_days": 800,
         "days_since_last_purchase": 3, "rfm_r": 5, "rfm_f": 5, "revenue": 25_000.0,
         "margin": None, "clv": 7_572.0, "p_alive": 0.99, "complaints_open": 0},
        {"customer_id": 2, "orders": 1, "frequency": 0, "tenure_days": 20,
         "days_since_last_purchase": 20, "rfm_r": 5, "rfm_f": 1, "revenue": 30.0,
         "margin": None, "clv": 10.0, "p_alive": 1.0, "complaints_open": 0},
        {"customer_id": 3, "orders": 0, "revenue": 0.0, "margin": None,
         "complaints_open": 0},  # zero-amount orders only
        {"customer_id": 4, "orders": 0, "revenue": None, "margin": None,
         "complaints_open": 0},  # never transacted
    ])


def test_signals_detect_what_a_transaction_log_holds() -> None:
    found = signals.detect(_transaction_only())
    assert found.available == ["transactions"] and found.transaction_only
    assert "interactions" in found.missing and "costs" in found.missing
    rich = signals.detect(metrics())
    assert rich.interactions and rich.preferences and rich.memberships and rich.costs
    assert not rich.transaction_only


def test_transaction_only_data_gets_the_preset_and_friends() -> None:
    config = RelationshipConfig()
    journey = [stage_model("journey")]
    result = compute(_transaction_only(), models=journey, config=config)
    assert result.presets == {"journey": "transaction_only"}
    assert "transaction-only preset" in result.models[0].title
    assert result.stages["journey"]["stage"].tolist() == [
        "partner", "acquaintance", "acquaintance", "stranger"]
    # the built-in rules need knowledge a sales log cannot show: nobody above acquaintance
    fixed = compute(_transaction_only(), models=journey, config=config,
                    adapt_to_evidence=False)
    assert fixed.stages["journey"]["stage"].tolist()[:3] == ["acquaintance"] * 3
    # rich data keeps the built-in model
    assert compute(metrics(), models=journey, config=config).presets == {}


def test_health_on_transaction_only_data_scores_only_what_it_can_show() -> None:
    frame = _transaction_only()
    card = health.scorecard(frame, signals.detect(frame)).set_index("customer_id")
    heavy = card.loc[1]
    unknown = [c for c in health.CHARACTERISTICS if pd.isna(heavy[f"health_{c}"])]
    assert unknown == ["mutual", "interactive", "ongoing_benefit", "behaviour_change",
                       "unique", "trust"]
    assert heavy["health_iterative"] == 100.0 and heavy["health_known"] == 1
    assert heavy["health_overall"] == 100.0  # the mean of the one known characteristic



def test_profile_evidence_writes_each_value_as_duckdb_json_does() -> None:
    """Integers and booleans are written as their plain text: the same JSON as
    ``to_json`` of every value (nulls, big and negative numbers, rounded floats)."""
    frame = pd.DataFrame({
        "orders": [0, -3, 2**62, 7], "referrals": pd.array([1, None, 0, 5], "Int64"),
        "has_loyalty": [True, False, True, False],
        "has_contract": pd.array([True, None, False, None], "boolean"),
        "revenue": [1.0, 0.123456, None, -2e-7],
        "membership_tier": ["gold", None, 'a"b', ""]})
    columns = list(frame.columns)
    rows = pa.table({name: pa.array(frame[name], from_pandas=True) for name in columns})
    values = [f"round({name}, 4)" if name == "revenue" else name for name in columns]
    parts = ", ".join(f"coalesce(to_json({value})::VARCHAR, 'null')" for value in values)
    connection = duckdb.connect()
    connection.register("rows", rows)
    reference = connection.execute(f"SELECT '[' || concat_ws(',', {parts}) || ']' FROM rows")
    written = values_json(frame, columns)
    assert list(written) == [row[0] for row in reference.fetchall()]
    assert json.loads(written[1]) == [-3, None, False, None, 0.1235, None]


def test_a_regular_who_stopped_is_not_iterating_and_not_mutual() -> None:
    """A weekly regular silent for 776 days scored iterative 100 and overall 100/100 (the
    only known characteristic of a transaction-only export); the context now fades after
    a year without a purchase, and mutual is 0 (the customer's side is 0) though nothing
    is known of the firm's side."""
    frame = pd.DataFrame({"customer_id": [1, 2, 3, 4], "frequency": [12] * 4,
                          "tenure_days": [900] * 4,
                          "days_since_last_purchase": [30, 365, 547.5, 776]})
    only_orders = signals.DataSignals(**dict.fromkeys(
        signals.DataSignals.__dataclass_fields__, False))
    card = health.scorecard(frame, only_orders).set_index("customer_id")
    assert card["health_iterative"].tolist() == [100.0, 100.0, 50.0, 0.0]
    assert card["health_mutual"].isna().tolist() == [True, True, False, False]
    assert card.loc[4, "health_overall"] == 0.0 and card.loc[4, "health_known"] == 2
