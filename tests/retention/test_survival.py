"""Kaplan-Meier against lifelines, and the Cox model's direction on crafted lifetimes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from kithkin.retention.survival import SurvivalError, cox, curves_by, kaplan_meier, retention_by


def _lifelines(t: np.ndarray, e: np.ndarray) -> pd.DataFrame:
    fitter = KaplanMeierFitter().fit(t, e)
    table = fitter.survival_function_.join(fitter.confidence_interval_)
    return table.loc[table.index > 0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kaplan_meier_matches_lifelines_with_ties_and_censoring(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.round(rng.exponential(200, 300)) + 1  # whole days from 1: many ties
    e = rng.random(300) < 0.7
    curve = kaplan_meier(t, e)
    expected = _lifelines(t, e)
    assert curve.times == pytest.approx(expected.index.to_numpy())
    assert curve.survival == pytest.approx(expected["KM_estimate"].to_numpy(), abs=1e-12)
    assert curve.lower == pytest.approx(expected["KM_estimate_lower_0.95"].to_numpy(), abs=1e-9)
    assert curve.upper == pytest.approx(expected["KM_estimate_upper_0.95"].to_numpy(), abs=1e-9)


def test_kaplan_meier_by_hand() -> None:
    # times 1, 2(censored), 3, 3, 4(censored): S(1) = 4/5, S(3) = 4/5 * (1 - 2/3)
    curve = kaplan_meier([1, 2, 3, 3, 4], [True, False, True, True, False])
    assert curve.times == [1, 2, 3, 4]
    assert curve.survival == pytest.approx([0.8, 0.8, 0.8 / 3, 0.8 / 3])
    assert curve.at(0.5) == 1.0 and curve.at(3.5) == pytest.approx(0.8 / 3)
    assert curve.at(10) is None  # past the last observation: unknown, not zero
    assert (curve.n, curve.events) == (5, 3)


def test_no_customers_is_an_error_not_a_flat_curve() -> None:
    with pytest.raises(SurvivalError):
        kaplan_meier([], [])


def _crafted(n: int = 3000, seed: int = 4) -> pd.DataFrame:
    """Hazard multiplied by 0.6 per bond kind and by 1.5 per level step, censored at 720."""
    rng = np.random.default_rng(seed)
    bonds = rng.integers(0, 4, n)
    level = rng.integers(0, 5, n)
    health = rng.uniform(0, 100, n)
    hazard = (1 / 300) * 0.6 ** bonds * 1.5 ** level
    life = rng.exponential(1 / hazard)
    return pd.DataFrame({"duration": np.minimum(life, 720), "lapsed": life < 720,
                         "bond_count": bonds, "level_rank": level, "health": health,
                         "stage": np.where(bonds > 1, "friend", "acquaintance")})


def test_cox_recovers_the_direction_and_size_of_crafted_hazard_ratios() -> None:
    result = cox(_crafted())
    ratios = {r.covariate: r for r in result.ratios}
    assert ratios["bond_count"].upper < 1  # bonds keep customers
    assert ratios["bond_count"].lower < 0.6 < ratios["bond_count"].upper
    assert ratios["level_rank"].lower > 1
    assert ratios["level_rank"].lower < 1.5 < ratios["level_rank"].upper
    # health has no effect here: its interval covers 1
    assert ratios["health"].lower < 1 < ratios["health"].upper


def test_cox_leaves_out_constant_covariates_and_unknowns() -> None:
    frame = _crafted(500).assign(level_rank=2.0)
    frame.loc[:9, "health"] = np.nan
    result = cox(frame)
    assert [r.covariate for r in result.ratios] == ["bond_count", "health"]
    assert result.dropped == 10


def test_groups_and_retention_tables() -> None:
    frame = _crafted(2000)
    curves = curves_by(frame, "stage")
    assert [c.label for c in curves] == ["stage acquaintance", "stage friend"]
    rows = {r["group"]: r for r in retention_by(frame, "stage", horizon_days=365)}
    assert rows["friend"]["retention"] > rows["acquaintance"]["retention"]
    assert rows["friend"]["churn"] < rows["acquaintance"]["churn"]
