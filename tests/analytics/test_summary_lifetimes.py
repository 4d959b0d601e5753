"""customer_summary equals lifetimes' summary functions (CDNOW and random data, DuckDB)."""

from __future__ import annotations

from datetime import date

import ibis
import numpy as np
import pandas as pd
import pytest
from lifetimes.datasets import load_dataset
from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

from kithkin.analytics.periods import TimeUnit
from kithkin.analytics.summary import customer_summary


def as_ibis(frame: pd.DataFrame) -> ibis.Table:
    return ibis.memtable(pd.DataFrame({
        "customer_id": frame.customer_id.astype("int64"),
        "ordered_at": frame.date.dt.tz_localize("UTC"),
        "amount": frame.amount.astype("float64"),
    }))


def assert_same(got: ibis.Table, expected: pd.DataFrame) -> None:
    frame = ibis.duckdb.connect().to_pandas(got).set_index("customer_id").sort_index()
    expected = expected.sort_index()
    assert frame.index.tolist() == expected.index.tolist()
    assert sorted(frame.columns) == sorted(expected.columns)
    for column in expected.columns:
        np.testing.assert_allclose(frame[column], expected[column], rtol=1e-9, atol=1e-9,
                                   err_msg=column)


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    frame = load_dataset("CDNOW_master.txt", sep=r"\s+", dtype={"date": str})
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    frame = frame.rename(columns={"dollar_value": "amount"})
    return frame[frame.amount > 0]  # kithkin's purchase rule; lifetimes has none


# Weekly periods end on Sundays; lifetimes keeps the whole as-of week, kithkin stops at the
# as-of day, so the two agree when as-of is a Sunday (1997-09-28).
@pytest.mark.parametrize(("unit", "end"), [("D", "1997-09-30"), ("W", "1997-09-28")])
def test_cdnow_summary(cdnow: pd.DataFrame, unit: TimeUnit, end: str) -> None:
    expected = summary_data_from_transaction_data(
        cdnow, "customer_id", "date", "amount", observation_period_end=end, freq=unit)
    assert_same(customer_summary(as_ibis(cdnow), as_of=date.fromisoformat(end),
                                 time_unit=unit), expected)


def test_cdnow_calibration_holdout(cdnow: pd.DataFrame) -> None:
    expected = calibration_and_holdout_data(
        cdnow, "customer_id", "date", calibration_period_end="1997-06-30",
        observation_period_end="1997-09-30", monetary_value_col="amount")
    got = customer_summary(as_ibis(cdnow), as_of=date(1998, 6, 30),
                           calibration_end=date(1997, 6, 30), observation_end=date(1997, 9, 30))
    assert_same(got, expected)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_transactions_with_same_day_purchases(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 2000
    start = pd.Timestamp("2023-01-02")
    frame = pd.DataFrame({
        "customer_id": rng.integers(1, 200, n),
        # Whole hours over a year: many same-day purchases per customer.
        "date": start + pd.to_timedelta(rng.integers(0, 365 * 24, n), unit="h"),
        "amount": np.round(rng.gamma(2.0, 20.0, n) + 0.01, 2),
    })
    as_of = date(2023, 10, 1)  # a Sunday: daily and weekly both comparable
    units: tuple[TimeUnit, ...] = ("D", "W")
    for unit in units:
        expected = summary_data_from_transaction_data(
            frame[frame.date < pd.Timestamp("2023-10-02")], "customer_id", "date", "amount",
            observation_period_end=str(as_of), freq=unit)
        assert_same(customer_summary(as_ibis(frame), as_of=as_of, time_unit=unit),
                    expected)
