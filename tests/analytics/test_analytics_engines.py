"""Every analytics function, on every engine, against hand-computed values.

As of 2024-06-30 (see crafted.py for the data and the cases it covers).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.analytics import crafted

Results = tuple[str, dict[str, pd.DataFrame]]


def row(frame: pd.DataFrame, customer_id: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = frame[frame.customer_id == customer_id].to_dict("records")
    assert len(rows) == 1, f"customer {customer_id}: {len(rows)} rows"
    return rows[0]


def test_summary_by_day(engine_results: Results) -> None:
    _, results = engine_results
    summary = results["summary"]
    # Carol (3) buys only after as-of, Frank (6) never: absent.
    assert summary.customer_id.tolist() == [1, 2, 4, 5]
    # Alice: days 01-10 (two orders, one day), 03-01, 05-01; refund and July order ignored.
    assert row(summary, 1) == {"customer_id": 1, "frequency": 2.0, "recency": 112.0,
                               "T": 172.0, "monetary_value": 100.0}
    assert row(summary, 2) == {"customer_id": 2, "frequency": 0.0, "recency": 0.0,
                               "T": 29.0, "monetary_value": 0.0}
    # Dan bought before his acquisition date: counted; same-day orders summed.
    assert row(summary, 4) == {"customer_id": 4, "frequency": 1.0, "recency": 74.0,
                               "T": 150.0, "monetary_value": 60.0}
    # Eve: the zero-value order is not a purchase.
    assert row(summary, 5) == {"customer_id": 5, "frequency": 0.0, "recency": 0.0,
                               "T": 81.0, "monetary_value": 0.0}


def test_summary_by_week(engine_results: Results) -> None:
    _, results = engine_results
    alice = row(results["summary_weekly"], 1)
    # Weeks start on Monday: 2024-01-08, 02-26, 04-29; as-of week starts 06-24.
    assert alice == {"customer_id": 1, "frequency": 2.0, "recency": 16.0, "T": 24.0,
                     "monetary_value": 100.0}


def test_calibration_holdout_split(engine_results: Results) -> None:
    _, results = engine_results
    holdout = results["holdout"]
    assert holdout.customer_id.tolist() == [1, 4]  # Bob and Eve start after 03-31
    alice = row(holdout, 1)
    assert alice["frequency_cal"] == 1.0 and alice["T_cal"] == 81.0
    assert alice["monetary_value_cal"] == 80.0
    assert alice["frequency_holdout"] == 1.0 and alice["monetary_value_holdout"] == 120.0
    assert alice["duration_holdout"] == 91.0
    dan = row(holdout, 4)
    assert dan["frequency_cal"] == 0.0 and dan["frequency_holdout"] == 1.0


def test_one_pass_history_gives_the_summary_and_split(engine_results: Results) -> None:
    """The refresh's summary and calibration split, projections of the one aggregation
    it shares with the value features, are customer_summary's."""
    _, results = engine_results
    for mine, theirs in (("history_summary", "summary"), ("history_holdout", "holdout")):
        pd.testing.assert_frame_equal(results[mine], results[theirs], check_exact=False,
                                      rtol=1e-12, obj=mine)


def test_customer_features(engine_results: Results) -> None:
    _, results = engine_results
    features = results["features"]
    assert features.customer_id.tolist() == [1, 2, 4, 5]
    alice = row(features, 1)
    assert alice["orders"] == 4
    assert alice["revenue"] == pytest.approx(330.0)  # refund reduces revenue
    # 40 + (50 - 2*10 [product cost] - 1*4 [line cost]) + 30 + 50 - 8 (refund)
    assert alice["margin"] == pytest.approx(138.0)
    assert alice["avg_order_value"] == pytest.approx(87.5)
    assert alice["days_since_last_purchase"] == 60.0 and alice["tenure_days"] == 172.0
    assert alice["products_bought"] == 2 and alice["categories_bought"] == 2
    assert alice["discount_share"] == pytest.approx(0.25)
    assert pd.Timestamp(alice["first_purchase_at"]) == pd.Timestamp("2024-01-10 09:00", tz="UTC")
    assert pd.Timestamp(alice["last_purchase_at"]) == pd.Timestamp("2024-05-01 08:00", tz="UTC")
    dan = row(features, 4)
    assert dan["orders"] == 3 and dan["revenue"] == pytest.approx(110.0)
    assert dan["margin"] is None or math.isnan(dan["margin"])  # no cost information
    eve = row(features, 5)
    assert eve["orders"] == 1 and eve["revenue"] == pytest.approx(0.0)
    assert eve["avg_order_value"] == pytest.approx(25.0)
    assert row(features, 2)["margin"] == pytest.approx(15.0)


def test_rfm_scores_and_segments(engine_results: Results) -> None:
    _, results = engine_results
    rfm = results["rfm"].set_index("customer_id")
    assert rfm.rfm_score.to_dict() == {1: "344", 2: "412", 4: "233", 5: "111"}
    assert rfm.rfm_segment.to_dict() == {1: "loyal customers", 2: "promising",
                                         4: "at risk", 5: "lost"}


def test_interaction_features(engine_results: Results) -> None:
    _, results = engine_results
    frame = results["interactions"]
    assert frame.customer_id.tolist() == [1, 6]
    alice = row(frame, 1)
    assert (alice["interactions_90d"], alice["inbound_90d"], alice["outbound_90d"]) == (6, 5, 1)
    assert alice["interactions_365d"] == 8
    assert alice["two_way_ratio"] == pytest.approx(1 / 7)
    assert (alice["complaints"], alice["complaints_open"], alice["complaints_resolved"]) == (
        3, 2, 1)
    assert alice["mean_resolution_hours"] == pytest.approx(36.0)
    assert alice["last_nps"] == 9.0 and alice["last_csat"] == 4.0
    assert (alice["referrals"], alice["reviews"], alice["ideas"]) == (1, 0, 0)
    # Scores scaled to 0-1 against months (30 days) before as-of: slope of a straight fit.
    x = np.array([-167.0, -15.0, -5.0]) / 30
    y = np.array([0.8, 0.9, 0.75])
    assert alice["satisfaction_trend"] == pytest.approx(np.polyfit(x, y, 1)[0], abs=1e-9)
    frank = row(frame, 6)
    assert frank["two_way_ratio"] == pytest.approx(1 / 3)
    assert frank["mean_resolution_hours"] == pytest.approx(2.0)
    assert (frank["ideas"], frank["reviews"], frank["service_requests"]) == (1, 1, 1)
    assert math.isnan(frank["satisfaction_trend"])


def test_membership_features(engine_results: Results) -> None:
    _, results = engine_results
    frame = results["memberships"]
    assert row(frame, 1) == {"customer_id": 1, "active_memberships": 1, "has_loyalty": True,
                             "has_subscription": False, "has_contract": False,
                             "membership_tier": "gold"}
    frank = row(frame, 6)
    assert frank["has_contract"] is False or not frank["has_contract"]  # starts after as-of
    assert frank["membership_tier"] == "silver"


def test_cohort_retention_and_repeat_rate(engine_results: Results) -> None:
    _, results = engine_results
    cohorts = results["cohorts"]
    cohorts["cohort"] = pd.to_datetime(cohorts.cohort).dt.strftime("%Y-%m")
    active = {(r.cohort, r.period_number): (r.customers, r.active)
              for r in cohorts.itertuples()}
    assert [active[("2024-01", p)][1] for p in range(6)] == [1, 0, 1, 0, 1, 0]
    assert [active[("2024-02", p)][1] for p in range(5)] == [1, 0, 1, 0, 0]
    assert [active[("2024-04", p)][1] for p in range(3)] == [1, 0, 0]
    assert active[("2024-06", 0)] == (1, 1)
    assert len(cohorts) == 6 + 5 + 3 + 1
    assert cohorts.rate.tolist() == cohorts.active.tolist()  # one customer per cohort
    repeat = results["repeat"].iloc[0]
    assert (repeat.customers, repeat.repeat_customers, repeat.rate) == (4, 2, 0.5)


def test_monthly_activity(engine_results: Results) -> None:
    _, results = engine_results
    monthly = results["monthly"]
    jan_2024 = 2024 * 12
    # every transaction counts, refunds included; August is the latest month (Carol)
    assert monthly.month.tolist() == list(range(jan_2024, jan_2024 + 9))
    assert monthly.revenue.tolist()[:8] == [150.0, 50.0, 80.0, 60.0, 100.0, 40.0, 500.0,
                                            70.0]
    assert monthly.orders.tolist()[:8] == [2, 3, 1, 3, 2, 1, 1, 1]
    # buyers of the month before (Dan and Eve in February); nobody buys two months running
    assert monthly.buyers_before.tolist()[1:] == [1, 2, 1, 2, 1, 1, 1, 1]
    assert monthly.retained.tolist()[1:] == [0] * 8
    assert monthly.orders.isna().tolist() == [False] * 8 + [True]  # September: after data
    window = results["monthly_window"]  # July and August, with June for July's retention
    assert window.month.tolist() == list(range(jan_2024 + 5, jan_2024 + 9))
    assert window.orders.tolist()[:3] == [1, 1, 1]


def test_transaction_totals(engine_results: Results) -> None:
    _, results = engine_results
    totals = results["totals"]
    amounts = [t["amount"] for t in crafted.TRANSACTIONS]
    assert totals.orders.tolist() == [len(amounts)]  # refunds and later orders included
    assert totals.revenue.tolist() == [pytest.approx(sum(amounts))]


def test_relationship_event_inputs(engine_results: Results) -> None:
    _, results = engine_results
    events = results["relationship_events"].set_index("customer_id")
    # Alice: "Event" and ["community", "event"] (once) by as-of, ["community"] after it;
    # Frank: "COMMUNITY"; "events" and "my community day" are other tags.
    counts = events.community_interactions.fillna(0).astype(int).to_dict()
    assert counts == {1: 2, 2: 0, 6: 1}
    # Alice's two bundle lines by as-of (her July one comes later); Bob's one.
    assert events.bundles_bought.fillna(0).astype(int).to_dict() == {1: 2, 2: 1, 6: 0}
    assert events.community_interactions.isna().tolist() == [False, True, False]
    spend = results["category_spend"]
    # Alice: books 2 x 20 + 120; music 10 less the refund's line (-1 x 20). Bob's
    # product has no category; the July line is after as-of.
    assert [tuple(r) for r in spend.itertuples(index=False)] == [
        (1, "books", 160.0), (1, "music", -10.0)]


def test_relationship_attribute_inputs(engine_results: Results) -> None:
    _, results = engine_results
    found = results["relationship_inputs"].set_index("customer_id")
    assert found.index.tolist() == [1, 2, 4, 5, 6]  # Carol has no attributes nor manager
    columns = ["has_preferences", "has_account_manager", "has_price_lock", "integrations",
               "shared_processes", "customized_orders", "community_interactions",
               "bundles_bought"]
    rows = {i: [None if pd.isna(v) else v for v in found.loc[i, columns].tolist()]
            for i in found.index}
    assert rows == {
        1: [True, True, True, 2, 2, 2, 2, 2],  # assigned manager; "edi; ;api" is two
        2: [False, True, False, 0, 0, -1, None, 1],  # named manager; -1.5 truncates to -1
        4: [False, False, False, 0, 0, 0, None, None],
        5: [False, False, False, 3, 0, 0, None, None],
        6: [False, True, False, 0, 0, 0, 1, None],
    }


def test_engines_agree_with_duckdb(engine_results: Results,
                                   duckdb_results: dict[str, pd.DataFrame]) -> None:
    """Identical results on every engine (floats to 1e-9)."""
    _, results = engine_results
    for name, expected in duckdb_results.items():
        got = results[name]
        assert list(got.columns) == list(expected.columns), name
        for column in expected.columns:
            left, right = got[column], expected[column]
            if pd.api.types.is_float_dtype(right):
                np.testing.assert_allclose(left.astype(float), right.astype(float),
                                           rtol=1e-9, atol=1e-9, err_msg=f"{name}.{column}")
            elif pd.api.types.is_datetime64_any_dtype(right):
                assert (pd.to_datetime(left, utc=True) == pd.to_datetime(right, utc=True)).all()
            else:
                assert left.astype(object).where(left.notna(), None).tolist() == \
                    right.astype(object).where(right.notna(), None).tolist(), f"{name}.{column}"


def test_loyalty_entries(engine_results: Results) -> None:
    """Points per order in the window, the bonus on every 2nd rewarded order counted over
    the whole history, and only enrolled members' orders when the programme says so."""
    _, results = engine_results
    everyone, enrolled = results["loyalty_all"], results["loyalty_enrolled"]
    assert len(everyone) > len(enrolled) > 0
    assert set(enrolled["customer_id"]) <= {1, 6}  # the two loyalty members
    assert (everyone["occurred_at"] > pd.Timestamp("2023-06-30 23:59:59", tz="UTC")).all()
    earn = everyone[everyone["kind"] == "earn"]
    assert earn["transaction_id"].is_unique and (earn["points"] > 0).all()
    assert set(everyone["kind"]) == {"earn", "bonus"}
