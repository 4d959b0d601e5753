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
        "clv": [1000, 900, 100, 90, 80, 70, 60, 50, 500, 0],
        "margin": [300, 250, 30, 20, 20, 10, 10, -5, 100, 0],
        "service_requests": [0, 0, 0, 0, 0, 0, 9, 0, 30, 0],
        "complaints": [0] * 10,
        "p_alive": [0.9, 0.9, 0.9, 0.1, 0.9, 0.9, 0.9, 0.9, 0.9, None],
    })
    result = tiers.value_tiers(frame, TierSettings(most_valuable_share=0.2,
                                                   most_growable_share=0.3,
                                                   service_cost_per_interaction=5.0))
    # MVC: top 20 % by clv among the 7 non-negative customers with clv > 0 (cut 900)
    # MGC: top 30 % potential among the rest with potential (cut at 288.9: customer 6)
    assert result["value_tier"].tolist() == [
        "most_valuable", "most_valuable", "ordinary", "ordinary", "ordinary",
        "most_growable", "below_zero", "below_zero", "below_zero", "ordinary"]
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
