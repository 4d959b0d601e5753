from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist

from kithkin.relationships import levels, tiers
from kithkin.relationships.workspace import LevelThresholds, NeedsSettings, TierSettings

THRESHOLDS = LevelThresholds(few_below=10, many_from=100, low_margin_below=0.1,
                             high_margin_from=0.3)


@pytest.mark.parametrize(("customers", "margin_rate", "level"), [
    (500, 0.40, "accountable"), (500, 0.20, "reactive"), (500, 0.05, "basic"),
    (50, 0.40, "proactive"), (50, 0.20, "accountable"), (50, 0.05, "reactive"),
    (5, 0.40, "partnership"), (5, 0.20, "proactive"), (5, 0.05, "accountable"),
    (100, 0.30, "accountable"), (10, 0.10, "accountable"), (9, 0.0999, "accountable"),
])
def test_kotler_matrix_cells(customers: int, margin_rate: float, level: str) -> None:
    assert levels.recommend(customers, margin_rate, THRESHOLDS).value == level


def test_segment_levels_from_size_and_margin() -> None:
    frame = pd.DataFrame({
        "customer_id": range(120),
        "revenue": [100.0] * 120,
        "margin": [40.0] * 5 + [5.0] * 115,
        "tier": ["vip"] * 5 + ["mass"] * 115,
    })
    table = levels.segment_levels(frame, ["tier"], THRESHOLDS).set_index("segment")
    assert table.loc["vip", ["customers", "margin_rate", "recommended_level"]].tolist() == [
        5, 0.4, "partnership"]
    assert table.loc["mass", ["customers", "margin_rate", "recommended_level"]].tolist() == [
        115, 0.05, "basic"]


def test_value_tiers() -> None:
    frame = pd.DataFrame({
        "customer_id": range(1, 11),
        "orders": [5] * 9 + [0],
        "clv": [1000, 900, 100, 90, 80, 70, 60, 0, 500, 0],
        "margin": [300, 250, 30, 20, 20, 10, 10, -5, 100, 0],
        "service_requests": [0, 0, 0, 0, 0, 0, 9, 0, 30, 0],
        "complaints": [0] * 10,
        "p_alive": [0.9, 0.9, 0.9, 0.1, 0.9, 0.9, 0.9, 0.9, 0.9, None],
    })
    result = tiers.value_tiers(frame, TierSettings(most_valuable_share=0.2,
                                                   most_growable_share=0.3,
                                                   service_cost_per_interaction=5.0))
    # below zero: net margin + CLV < 0, only customer 8 (-5 + 0); customers 7 (-35 + 60)
    # and 9 (-50 + 500: costly contacts, but a high expected margin) are not
    # MVC: top 20 % by clv among the 8 others with clv > 0 (cut 580: customers 1, 2)
    # MGC: top 30 % potential among the rest with potential (customers 6, 7)
    assert result["value_tier"].tolist() == [
        "most_valuable", "most_valuable", "ordinary", "ordinary", "ordinary",
        "most_growable", "most_growable", "below_zero", "ordinary", "ordinary"]
    # net margin: 10 - 5 x 9 = -35; 100 - 5 x 30 = -50
    assert result["net_margin"].tolist()[6:9] == [-35.0, -5.0, -50.0]
    # Q75 of clv is 400: customer 3 headroom (400 - 100) x 0.9, customer 4 (310) x 0.1
    assert result["potential"].tolist()[2:6] == [270.0, 31.0, 288.0, 297.0]
    assert result["potential"].tolist()[9] == 0.0  # no purchase, no share-of-wallet gap


def _spend(groups: int = 3, per_group: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    profiles = [{"books": 5, "music": 4}, {"garden": 8}, {"toys": 5, "books": 1}]
    rows = []
    for customer in range(groups * per_group):
        profile = profiles[customer % groups]
        for category in ("books", "music", "garden", "toys"):
            rows.append((customer, category, profile.get(category, 0.2) * rng.uniform(0.5, 1.5)))
    return pd.DataFrame(rows, columns=["customer_id", "category", "amount"])


def test_needs_segments_found_and_named_by_dominant_categories() -> None:
    shares = tiers.category_shares(_spend())
    assert np.allclose(shares.sum(axis=1), 1.0)
    segments = tiers.needs_segments(shares, NeedsSettings())
    assert segments.value_counts().to_dict() == {"books + music": 40, "garden": 40,
                                                 "toys": 40}
    assert segments.loc[0] == "books + music" and segments.loc[1] == "garden"
    again = tiers.needs_segments(shares, NeedsSettings())
    assert again.equals(segments)  # fixed seed: reproducible
    fixed = tiers.needs_segments(shares, NeedsSettings(k=2))
    assert fixed.nunique() == 2


def test_silhouette_matches_the_definition() -> None:
    rng = np.random.default_rng(0)
    data = np.vstack([rng.normal(0, 1, (6, 2)), rng.normal(5, 1, (5, 2)), [[20, 20]]])
    labels = np.array([0] * 6 + [1] * 5 + [2])
    distances = cdist(data, data)
    expected = []
    for i, label in enumerate(labels):
        same = (labels == label) & (np.arange(len(data)) != i)
        if not same.any():
            expected.append(0.0)
            continue
        a = distances[i, same].mean()
        b = min(distances[i, labels == other].mean() for other in set(labels) - {label})
        expected.append((b - a) / max(a, b))
    assert tiers.silhouette(data, labels) == pytest.approx(np.mean(expected))


def test_distinctiveness_is_zero_for_the_average_profile() -> None:
    shares = pd.DataFrame({"a": [0.5, 1.0, 0.0], "b": [0.5, 0.0, 1.0]}, index=[1, 2, 3])
    result = tiers.distinctiveness(shares)
    assert result.loc[1] == pytest.approx(0.0)
    assert result.loc[2] == pytest.approx(1 - np.sqrt(0.5))


def test_one_complaint_does_not_put_a_top_customer_below_zero_without_costs() -> None:
    """Without costs the margin is unknown: it is assumed at default_margin (not taken
    as 0), so one complaint's service cost cannot outweigh it; and a high CLV keeps a
    customer whose past margin is negative out of "below zero"."""
    frame = pd.DataFrame({
        "customer_id": [1, 2, 3], "orders": [201, 1, 2],
        "revenue": [25_000.0, 10.0, 0.0], "margin": [None, None, None],
        "clv": [7_572.0, 0.0, 0.0], "complaints": [1, 1, 1],
        "p_alive": [0.99, 0.1, 0.1],
    })
    result = tiers.value_tiers(frame, TierSettings(service_cost_per_interaction=5.0),
                               default_margin=0.25)
    # margins assumed: 6,250 - 5 and 2.5 - 5; the third has nothing to assume from
    assert result["net_margin"].tolist() == [6245.0, -2.5, -5.0]
    assert result["value_tier"].tolist()[0] == "most_valuable"
    assert result["value_tier"].tolist()[1:] == ["below_zero", "below_zero"]


def test_segment_levels_say_when_the_margin_is_assumed() -> None:
    frame = pd.DataFrame({
        "customer_id": range(6),
        "revenue": [100.0] * 6,
        "margin": [None, None, None, 40.0, 40.0, None],
        "tier": ["nocost"] * 3 + ["costed"] * 2 + ["mixed"],
    })
    frame.loc[5, "tier"] = "costed"
    table = levels.segment_levels(frame, ["tier"], THRESHOLDS,
                                  default_margin=0.2).set_index("segment")
    # no cost at all: the rate is the assumption (20 %), and the row says so
    assert table.loc["nocost", ["margin_rate", "margin_known_share"]].tolist() == [0.2, 0.0]
    # 2 of 3 customers' margins known: (40 + 40 + 20) / 300
    assert table.loc["costed", ["margin_rate", "margin_known_share"]].tolist() == [
        0.3333, 0.6667]


def test_unknown_margins_are_assumed_at_the_data_ratio_when_some_costs_are_known() -> None:
    """One assumption with CLV: the data's own ratio where it has costs, else the setting."""
    frame = pd.DataFrame({"customer_id": [1, 2, 3], "revenue": [100.0, 300.0, 50.0],
                          "margin": [40.0, 80.0, None]})
    assert tiers.assumed_margin_rate(frame, 0.25) == (0.3, "data")
    assert tiers.assumed_margin_rate(frame.assign(margin=None), 0.25) == (
        0.25, "default_margin")
    margin, known = tiers.known_or_assumed_margin(frame, 0.3)
    assert margin.tolist() == [40.0, 80.0, 15.0] and known.tolist() == [True, True, False]
