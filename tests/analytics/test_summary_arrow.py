"""customer_summary_from_arrow equals customer_summary (SQL) and lifetimes' summary."""

from __future__ import annotations

from datetime import date

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from lifetimes.datasets import load_dataset
from lifetimes.utils import summary_data_from_transaction_data

from kithkin.analytics.periods import TimeUnit
from kithkin.analytics.summary import customer_summary, customer_summary_from_arrow

COLUMNS = ["frequency", "recency", "T", "monetary_value"]


def assert_equal(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    expected = expected.sort_index()
    assert got["customer_id"].tolist() == expected.index.tolist()
    for column in COLUMNS:
        np.testing.assert_allclose(got[column].to_numpy(), expected[column].to_numpy(),
                                   rtol=1e-9, atol=1e-9, err_msg=column)


def via_sql(table: pa.Table, *, as_of: date, unit: TimeUnit) -> pd.DataFrame:
    frame = ibis.duckdb.connect().to_pandas(
        customer_summary(ibis.memtable(table), as_of=as_of, time_unit=unit))
    return frame.set_index("customer_id")


@pytest.mark.parametrize(("unit", "end"), [("D", "1997-09-30"), ("W", "1997-09-28")])
def test_cdnow_matches_lifetimes(unit: TimeUnit, end: str) -> None:
    frame = load_dataset("CDNOW_master.txt", sep=r"\s+", dtype={"date": str})
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    frame = frame.rename(columns={"dollar_value": "amount"})
    frame = frame[frame.amount > 0]
    expected = summary_data_from_transaction_data(
        frame, "customer_id", "date", "amount", observation_period_end=end, freq=unit)
    table = pa.table({"customer_id": frame.customer_id.astype("int64"),
                      "ordered_at": frame.date.astype("datetime64[us]"),
                      "amount": frame.amount.astype("float64")})
    assert_equal(customer_summary_from_arrow(table, as_of=date.fromisoformat(end),
                                             time_unit=unit), expected)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("unit", ["D", "W"])
@pytest.mark.parametrize("ids", ["dense", "sparse"])
def test_messy_log_matches_the_sql_summary(seed: int, unit: TimeUnit, ids: str) -> None:
    """Same-day orders, refunds, zero amounts, nulls, future orders, time zones, any ids."""
    rng = np.random.default_rng(seed)
    n = 5_000
    customer = rng.integers(1, 400, n)
    if ids == "sparse":  # far apart ids take the hashing path
        customer = customer * 10**12 + 7
    hours = rng.integers(-24 * 30, 24 * 400, n)
    moment = pd.Timestamp("2023-01-02", tz="UTC") + pd.to_timedelta(hours, unit="h")
    amount = np.round(rng.gamma(2.0, 20.0, n), 2) * rng.choice([1, 1, 1, 1, 0, -1], n)
    table = pa.table({
        "customer_id": pa.array(customer, mask=rng.random(n) < 0.02),
        "ordered_at": pa.array(moment.to_numpy(), type=pa.timestamp("us", tz="UTC"),
                               mask=rng.random(n) < 0.02),
        "amount": pa.array(amount, mask=rng.random(n) < 0.02),
    })
    as_of = date(2023, 12, 31)
    expected = via_sql(table, as_of=as_of, unit=unit)
    got = customer_summary_from_arrow(table, as_of=as_of, time_unit=unit)
    assert len(got) > 300
    assert_equal(got, expected)


def test_no_purchases_gives_an_empty_summary() -> None:
    table = pa.table({"customer_id": [1, 2], "ordered_at": pa.array(
        [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02")], type=pa.timestamp("ms")),
        "amount": [0.0, -5.0]})
    got = customer_summary_from_arrow(table, as_of=date(2024, 2, 1))
    assert got.empty and list(got.columns) == ["customer_id", *COLUMNS]


@pytest.mark.parametrize("unit", ["D", "W"])
def test_many_chunks_spread_over_customers(unit: TimeUnit) -> None:
    """Chunks whose customers span the whole id range take the gathered-bincount path."""
    rng = np.random.default_rng(5)
    n, per_chunk = 60_000, 10_000
    frame = pd.DataFrame({
        "customer_id": rng.integers(1, 200_000, n),
        "ordered_at": (pd.Timestamp("2022-03-01") + pd.to_timedelta(
            rng.integers(0, 24 * 700, n), unit="h")).astype("datetime64[us]"),
        "amount": np.round(rng.gamma(2.0, 20.0, n) + 0.01, 2),
    })
    whole = pa.Table.from_pandas(frame, preserve_index=False)
    table = pa.Table.from_batches(whole.to_batches(max_chunksize=per_chunk))
    assert table.column("amount").num_chunks == n // per_chunk
    as_of = date(2023, 12, 31)
    assert_equal(customer_summary_from_arrow(table, as_of=as_of, time_unit=unit),
                 via_sql(whole, as_of=as_of, unit=unit))
