"""customer_summary equals lifetimes' summary functions (CDNOW and random data, DuckDB)."""

from __future__ import annotations

from datetime import date

import ibis
import numpy as np
import pandas as pd
import pytest
from ibis.backends import BaseBackend
from lifetimes.datasets import load_dataset
from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

from kithkin.analytics.periods import TimeUnit, day_number
from kithkin.analytics.summary import customer_summary


def as_ibis(frame: pd.DataFrame) -> ibis.Table:
    return ibis.memtable(pd.DataFrame({
        "customer_id": frame.customer_id.astype("int64"),
        "ordered_at": frame.date.dt.tz_localize("UTC"),
        "amount": frame.amount.astype("float64"),
    }))


def assert_same(got: ibis.Table, expected: pd.DataFrame,
                backend: BaseBackend | None = None) -> None:
    frame = (backend or ibis.duckdb.connect()).to_pandas(got)
    frame = frame.set_index("customer_id").sort_index()
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


def messy_log(seed: int, n: int = 6_000, customers: int = 300) -> pd.DataFrame:
    """Same-day orders, refunds, zero amounts, missing values and orders after the as-of
    date, over two years (one order before 1970 too)."""
    rng = np.random.default_rng(seed)
    hours = rng.integers(-24 * 30, 24 * 400, n)
    amount = np.round(rng.gamma(2.0, 20.0, n), 2) * rng.choice([1, 1, 1, 1, 0, -1], n)
    frame = pd.DataFrame({
        "customer_id": pd.array(rng.integers(1, customers, n), dtype="Int64"),
        "ordered_at": (pd.Timestamp("2023-01-02", tz="UTC")
                       + pd.to_timedelta(hours, unit="h")).astype("datetime64[us, UTC]"),
        "amount": amount,
    })
    frame.loc[rng.random(n) < 0.02, "customer_id"] = pd.NA
    frame.loc[rng.random(n) < 0.02, "amount"] = np.nan
    frame.loc[0, ["customer_id", "ordered_at", "amount"]] = [
        1, pd.Timestamp("1969-12-31 23:00", tz="UTC"), 12.5]
    return frame


def lifetimes_summary(frame: pd.DataFrame, *, as_of: date, unit: TimeUnit) -> pd.DataFrame:
    """lifetimes' summary of the rows kithkin counts as purchases (amount > 0, a customer,
    on or before the as-of day)."""
    end = pd.Timestamp(as_of, tz="UTC") + pd.Timedelta(days=1)
    kept = frame[(frame.amount > 0) & frame.customer_id.notna() & (frame.ordered_at < end)]
    kept = kept.assign(customer_id=kept.customer_id.astype("int64"),
                       ordered_at=kept.ordered_at.dt.tz_localize(None))
    return summary_data_from_transaction_data(
        kept, "customer_id", "ordered_at", "amount", observation_period_end=str(as_of),
        freq=unit)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("unit", ["D", "W"])
@pytest.mark.parametrize("where", ["memtable", "duckdb table"])
def test_messy_log_matches_lifetimes(seed: int, unit: TimeUnit, where: str) -> None:
    """In memory (ibis' portable day numbers) and as a DuckDB table (DuckDB's epoch)."""
    frame = messy_log(seed)
    as_of = date(2023, 12, 31)  # a Sunday: daily and weekly both comparable
    table, backend = ibis.memtable(frame), ibis.duckdb.connect()
    if where == "duckdb table":
        table = backend.create_table("transactions", table)
    expected = lifetimes_summary(frame, as_of=as_of, unit=unit)
    assert len(expected) > 250
    assert_same(customer_summary(table, as_of=as_of, time_unit=unit), expected, backend)


def test_duckdb_day_numbers_need_no_time_zone_conversion() -> None:
    """ibis renders epoch seconds as ``epoch(CAST(ts AS TIMESTAMP))``, an ICU conversion
    per row; on a UTC timestamp in DuckDB the day number reads the instant directly."""
    con = ibis.duckdb.connect()
    table = con.create_table("t", ibis.memtable(messy_log(3)))
    sql = ibis.to_sql(customer_summary(table, as_of=date(2023, 12, 31)))
    assert "EPOCH(" in sql and "AS TIMESTAMP)" not in sql
    portable = ibis.to_sql(day_number(ibis.memtable(messy_log(3)).ordered_at))
    assert "AS TIMESTAMP)" in portable  # other engines keep ibis' form


def test_no_purchases_gives_an_empty_summary() -> None:
    frame = pd.DataFrame({"customer_id": [1, 2], "ordered_at": pd.to_datetime(
        ["2024-01-01", "2024-01-02"], utc=True), "amount": [0.0, -5.0]})
    got = ibis.duckdb.connect().to_pandas(customer_summary(ibis.memtable(frame),
                                                           as_of=date(2024, 2, 1)))
    assert got.empty
    assert list(got.columns) == ["customer_id", "frequency", "recency", "T",
                                 "monetary_value"]


def test_customers_without_purchases_are_left_out() -> None:
    """Only refunds or zero amounts, or everything after the as-of day: no summary row."""
    frame = pd.DataFrame({
        "customer_id": [10, 11, 11, 12, 14],
        "ordered_at": pd.to_datetime(["2024-01-01 00:00:00", "2024-01-02 00:00:00",
                                      "2024-01-05 00:00:00", "2024-02-02 00:00:00",
                                      "2024-01-03 23:59:59"], utc=True),
        "amount": [5.0, -5.0, 0.0, 9.0, 8.0]})
    got = ibis.duckdb.connect().to_pandas(customer_summary(ibis.memtable(frame),
                                                           as_of=date(2024, 2, 1)))
    got = got.sort_values("customer_id")
    assert got["customer_id"].tolist() == [10, 14]
    assert got["T"].tolist() == [31.0, 29.0]
