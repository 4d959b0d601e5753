"""CDNOW fixtures: the 2,357-customer sample shipped with lifetimes (39-week calibration)."""

from __future__ import annotations

import warnings
from pathlib import Path

import lifetimes.datasets
import pandas as pd
import pytest

from kithkin.clv import BetaGeo, GammaGamma, ModifiedBetaGeo, ParetoNBD
from kithkin.clv.diagnostics import calibration_holdout_summary

CDNOW_SAMPLE = Path(lifetimes.datasets.__file__).parent / "CDNOW_sample.txt"


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    """frequency, recency, T (weeks) and monetary_value for the CDNOW sample."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lifetimes.datasets.load_cdnow_summary_data_with_monetary_value()


@pytest.fixture(scope="session")
def cdnow_holdout() -> pd.DataFrame:
    """Weeks 1-39 calibration and weeks 40-78 holdout built from the raw transactions."""
    transactions = pd.read_csv(
        CDNOW_SAMPLE, sep=r"\s+", header=None, dtype={"date": str},
        names=["master_id", "customer_id", "date", "quantity", "amount"],
    )
    transactions["date"] = pd.to_datetime(transactions["date"], format="%Y%m%d")
    return calibration_holdout_summary(
        transactions, customer_column="customer_id", date_column="date",
        calibration_end="1997-09-30", holdout_end="1998-06-30", time_unit_days=7,
    )


@pytest.fixture(scope="session")
def bg(cdnow: pd.DataFrame) -> BetaGeo:
    return BetaGeo().fit(frequency=cdnow["frequency"], recency=cdnow["recency"], T=cdnow["T"])


@pytest.fixture(scope="session")
def pareto(cdnow: pd.DataFrame) -> ParetoNBD:
    return ParetoNBD().fit(frequency=cdnow["frequency"], recency=cdnow["recency"],
                           T=cdnow["T"])


@pytest.fixture(scope="session")
def mbg(cdnow: pd.DataFrame) -> ModifiedBetaGeo:
    return ModifiedBetaGeo().fit(frequency=cdnow["frequency"], recency=cdnow["recency"],
                                 T=cdnow["T"])


@pytest.fixture(scope="session")
def gg(cdnow: pd.DataFrame) -> GammaGamma:
    return GammaGamma().fit(frequency=cdnow["frequency"],
                            monetary_value=cdnow["monetary_value"])
