"""customer_summary_from_arrow equals customer_summary (SQL) and lifetimes' summary."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lifetimes.datasets import load_dataset
from lifetimes.utils import summary_data_from_transaction_data

from kithkin.analytics import summary_arrow as summary_module
from kithkin.analytics.periods import TimeUnit
from kithkin.analytics.summary import customer_summary
from kithkin.analytics.summary_arrow import (
    customer_summary_from_arrow,
    customer_summary_from_parquet,
)

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


# --------------------------------------------------------------------------- streamed
def messy_log(seed: int, n: int = 6_000, customers: int = 300) -> pd.DataFrame:
    """Same-day orders, refunds, zero amounts and future orders over two years."""
    rng = np.random.default_rng(seed)
    hours = rng.integers(-24 * 30, 24 * 400, n)
    amount = np.round(rng.gamma(2.0, 20.0, n), 2) * rng.choice([1, 1, 1, 1, 0, -1], n)
    return pd.DataFrame({
        "customer_id": rng.integers(1, customers, n).astype("int64"),
        "ordered_at": (pd.Timestamp("2023-01-02") + pd.to_timedelta(hours, unit="h")
                       ).astype("datetime64[us]"),
        "amount": amount,
    })


def ordered(frame: pd.DataFrame, order: str, seed: int) -> pd.DataFrame:
    if order == "customer":  # times shuffled within a customer: splits overlap
        frame = frame.sample(frac=1.0, random_state=seed).sort_values("customer_id",
                                                                      kind="stable")
    elif order == "time":
        frame = frame.sort_values("ordered_at", kind="stable")
    else:
        frame = frame.sample(frac=1.0, random_state=seed)
    return frame.reset_index(drop=True)


def write(frame: pd.DataFrame, path: Path, **options: object) -> Path:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, **options)
    return path


def count_global_sorts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = summary_module._sorted_summary

    def counted(*args: Any, **kwargs: Any) -> pd.DataFrame:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(summary_module, "_sorted_summary", counted)
    return calls


@pytest.mark.parametrize("unit", ["D", "W"])
@pytest.mark.parametrize(("order", "streamed"), [("customer", True), ("time", True),
                                                  ("random", False)])
@pytest.mark.parametrize("batch_rows", [7, 64, 1000])
def test_parquet_in_batches_matches_the_sql_summary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unit: TimeUnit, order: str,
        streamed: bool, batch_rows: int) -> None:
    """Customer-days split across batches: in customer order (a customer's periods
    interleave across the split), in time order (a day straddles the split), at random
    (the running state cannot merge them: global sort)."""
    frame = ordered(messy_log(3), order, seed=4)
    path = write(frame, tmp_path / "log.parquet", row_group_size=500)
    calls = count_global_sorts(monkeypatch)
    as_of = date(2023, 12, 31)
    got = customer_summary_from_parquet(path, as_of=as_of, time_unit=unit,
                                        batch_rows=batch_rows)
    assert bool(calls) is not streamed
    assert_equal(got, via_sql(pa.Table.from_pandas(frame, preserve_index=False),
                              as_of=as_of, unit=unit))


def test_a_customer_day_split_across_batches_counts_once(tmp_path: Path) -> None:
    """Customer 2 buys on day 1 in batch one and again on day 1 and day 3 in batch two
    (customer order: the kept-keys path); customer 5 buys on day 2 at the end of batch two
    and day 2 again in batch three (time order: the one-shared-period path)."""
    day = pd.Timestamp("2024-01-01")
    frame = pd.DataFrame({
        "customer_id": [1, 2, 2, 2, 2, 5, 5, 6],
        "ordered_at": [day, day + pd.Timedelta(hours=20), day + pd.Timedelta(hours=1),
                       day + pd.Timedelta(days=2), day + pd.Timedelta(hours=3),
                       day + pd.Timedelta(days=1), day + pd.Timedelta(days=1, hours=5),
                       day + pd.Timedelta(days=9)],
        "amount": [10.0, 20.0, 30.0, 40.0, 5.0, 7.0, 11.0, 1.0],
    })
    frame["ordered_at"] = frame["ordered_at"].astype("datetime64[us]")
    path = write(frame, tmp_path / "log.parquet")
    got = customer_summary_from_parquet(path, as_of=date(2024, 1, 31), batch_rows=3)
    assert got["customer_id"].tolist() == [1, 2, 5, 6]
    assert got["frequency"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert got["recency"].tolist() == [0.0, 2.0, 0.0, 0.0]
    assert got["T"].tolist() == [30.0, 30.0, 29.0, 21.0]
    assert got["monetary_value"].tolist() == [0.0, 40.0, 0.0, 0.0]


@pytest.mark.parametrize("case", ["no statistics", "sparse ids", "before 1900", "nulls"])
def test_parquet_fallbacks_give_the_same_summary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    frame = ordered(messy_log(8), "customer", seed=9)
    options: dict[str, object] = {"row_group_size": 700}
    if case == "no statistics":
        options["write_statistics"] = False
    elif case == "sparse ids":
        frame["customer_id"] = frame["customer_id"] * 10**12 + 7
    elif case == "before 1900":
        frame.loc[5, "ordered_at"] = pd.Timestamp("1899-12-31 23:00")
        frame.loc[5, "amount"] = 12.5
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if case == "nulls":  # a null id, time and amount: dropped, still on the running path
        rng = np.random.default_rng(2)
        table = pa.table({name: pa.array(table.column(name).to_numpy(),
                                         mask=rng.random(len(frame)) < 0.03)
                          for name in table.column_names})
    pq.write_table(table, tmp_path / "log.parquet", **options)
    calls = count_global_sorts(monkeypatch)
    as_of = date(2023, 12, 31)
    got = customer_summary_from_parquet(tmp_path / "log.parquet", as_of=as_of,
                                        batch_rows=100)
    assert bool(calls) is (case != "nulls")
    assert_equal(got, via_sql(table, as_of=as_of, unit="D"))


@pytest.mark.parametrize("order", ["customer", "time", "random"])
def test_arrow_table_in_small_batches(monkeypatch: pytest.MonkeyPatch, order: str) -> None:
    monkeypatch.setattr(summary_module, "_BATCH_ROWS", 50)
    frame = ordered(messy_log(11), order, seed=12)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    as_of = date(2023, 12, 31)
    units: tuple[TimeUnit, ...] = ("D", "W")
    for unit in units:
        assert_equal(customer_summary_from_arrow(table, as_of=as_of, time_unit=unit),
                     via_sql(table, as_of=as_of, unit=unit))


def test_customers_without_purchases_are_left_out(tmp_path: Path) -> None:
    """Ids in range with only refunds, or no rows at all, get no summary row."""
    frame = pd.DataFrame({"customer_id": [10, 11, 11, 14],
                          "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-02",
                                                        "2024-01-05", "2024-01-03"]
                                                       ).astype("datetime64[us]"),
                          "amount": [5.0, -5.0, 0.0, 8.0]})
    got = customer_summary_from_parquet(write(frame, tmp_path / "log.parquet"),
                                        as_of=date(2024, 2, 1))
    assert got["customer_id"].tolist() == [10, 14]
    assert got["T"].tolist() == [31.0, 29.0]
