"""Every value is checked against its column's real range, the same way on both stores.

A value the store would take and a reader could not read back (infinity, year 0, NUL) or
that PostgreSQL refuses for the whole batch (1e20 in a Numeric(18, 2)) is a reject with
its row, field and reason; the other rows of the file are imported.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, text

from kithkin.config import get_settings
from kithkin.imports.ingest import ingest_file, ingest_records
from kithkin.imports.models import ImportStatus

from .helpers import (
    TRANSACTIONS_HEADER,
    Service,
    count,
    read_rejects,
    seed_customers,
    write_csv,
)

SOON = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")

BAD_ORDERS: list[tuple[list[str], str, str]] = [
    (["shop", "b1", "c1", "2024-01-01", "1e309", "EUR"], "amount", "not a finite number"),
    (["shop", "b2", "c1", "2024-01-01", "-1E+309", "EUR"], "amount", "not a finite number"),
    (["shop", "b3", "c1", "2024-01-01", "1e20", "EUR"], "amount", "out of range"),
    (["shop", "b4", "c1", "2024-01-01", "-10000000000000000", "EUR"], "amount",
     "out of range"),
    (["shop", "b5", "c1", "0000-01-01", "3", "EUR"], "ordered_at", "before 1900-01-01"),
    (["shop", "b6", "c1", "1899-12-31T23:59:59Z", "3", "EUR"], "ordered_at", "before"),
    (["shop", "b7", "c1", "2999-01-01", "3", "EUR"], "ordered_at", "in the future"),
    (["shop", "b8", "c1", SOON, "3", "EUR"], "ordered_at", "ingest_future_days"),
    (["shop", "b9", "c1", "99999999999", "3", "EUR"], "ordered_at", "in the future"),
    (["shop", "b\x0010", "c1", "2024-01-01", "3", "EUR"], "order_id", "control character"),
    (["shop", "b11", "c1", "2024-01-01", "3", "E\x00R"], "currency", "control character"),
    (["shop", "b1\n2", "c1", "2024-01-01", "3", "EUR"], "order_id", "control character"),
    (["shop", "b13", "c1", "2024-01-01", "3", "EUR", ], "", ""),  # good, for contrast
]


def test_out_of_range_values_are_rejected_on_both_stores(store_engine: Engine,
                                                         tmp_path: Path) -> None:
    seed_customers(store_engine, tmp_path)
    good = [["shop", f"g{i}", "c2", "2024-01-02", "12.50", "EUR"] for i in range(3)]
    rows = [*good[:1], *(row for row, _, _ in BAD_ORDERS), *good[1:]]
    path = write_csv(tmp_path / "orders.csv", [TRANSACTIONS_HEADER, *rows])
    report = ingest_file(kind="transactions", path=path, engine=store_engine)
    assert report.status == ImportStatus.SUCCEEDED
    expected = {i + 2: (field, reason) for i, (_, field, reason) in enumerate(BAD_ORDERS)
                if field}
    assert report.reject_path is not None
    rejects = {int(r["row"]): (r["field"], r["reason"]) for r in read_rejects(report.reject_path)}
    assert set(rejects) == set(expected)
    for row, (field, reason) in expected.items():
        assert rejects[row][0] == field, (row, rejects[row])
        assert reason in rejects[row][1], (row, rejects[row])
    assert report.rows_written == 4  # three good rows and b13; nothing half-written
    assert count(store_engine, "transaction") == 4


def test_json_lines_infinity_and_huge_numbers(store_engine: Engine, tmp_path: Path) -> None:
    seed_customers(store_engine, tmp_path)
    base = {"source": "shop", "customer_external_id": "c1", "ordered_at": "2024-01-01"}
    lines = [
        {**base, "order_id": "j1", "amount": "1e999"},
        {**base, "order_id": "j2", "amount": 10**30},  # beyond int64
        {**base, "order_id": "j3", "amount": 12.5},
    ]
    path = tmp_path / "orders.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = ingest_file(kind="transactions", path=path, engine=store_engine)
    assert report.reject_path is not None
    rejects = read_rejects(report.reject_path)
    assert [(r["row"], r["field"]) for r in rejects] == [("1", "amount"), ("2", "amount")]
    assert "not a finite number" in rejects[0]["reason"]
    assert "out of range" in rejects[1]["reason"]
    assert count(store_engine, "transaction") == 1


def test_parquet_integer_is_not_silently_a_timestamp(sqlite_engine: Engine,
                                                     tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    table = pa.table({
        "source": ["shop"] * 4, "order_id": ["p1", "p2", "p3", "p4"],
        "customer_external_id": ["c1"] * 4,
        # 20240301 is a date written as a number, not 1970-08-23; 1.7e9 is epoch seconds.
        "ordered_at": pa.array([20240301, 1_700_000_000, -5, 10**15], pa.int64()),
        "amount": [1.0, 2.0, 3.0, 4.0],
    })
    path = tmp_path / "orders.parquet"
    pq.write_table(table, path)
    report = ingest_file(kind="transactions", path=path, engine=sqlite_engine)
    assert report.reject_path is not None
    rejects = read_rejects(report.reject_path)
    assert [(r["row"], r["field"]) for r in rejects] == [
        ("1", "ordered_at"), ("3", "ordered_at"), ("4", "ordered_at")]
    assert "epoch seconds" in rejects[0]["reason"]
    assert report.rows_written == 1


def test_parquet_timestamps_out_of_range(sqlite_engine: Engine, tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    millis = pa.array([1_700_000_000_000, 32_503_680_000_000, 2**62, -(2**62)], pa.int64())
    table = pa.table({
        "source": ["shop"] * 4, "order_id": ["t1", "t2", "t3", "t4"],
        "customer_external_id": ["c1"] * 4,
        "ordered_at": millis.cast(pa.timestamp("ms", tz="UTC")),  # 2023, 3000, far out
        "amount": [1.0, 2.0, 3.0, 4.0],
    })
    path = tmp_path / "orders.parquet"
    pq.write_table(table, path)
    report = ingest_file(kind="transactions", path=path, engine=sqlite_engine)
    assert report.reject_path is not None
    assert [r["row"] for r in read_rejects(report.reject_path)] == ["2", "3", "4"]
    assert report.rows_written == 1


def test_date_of_birth_window(store_engine: Engine, tmp_path: Path) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
    path = write_csv(tmp_path / "customers.csv", [
        ["source", "external_id", "date_of_birth", "first_name"],
        ["shop", "d1", "1850-06-01", "Old"],
        ["shop", "d2", tomorrow, "Unborn"],
        ["shop", "d3", "1990-05-01", "Fine"],
        ["shop", "d4", "0000-01-01", "Zero"],
        ["shop", "d5", "1990-05-01", "Nul\x00"],
    ])
    report = ingest_file(kind="customers", path=path, engine=store_engine)
    assert report.reject_path is not None
    rejects = read_rejects(report.reject_path)
    assert [(r["row"], r["field"]) for r in rejects] == [
        ("1", "date_of_birth"), ("2", "date_of_birth"), ("4", "date_of_birth"),
        ("5", "first_name")]
    assert "ingest_earliest_birth_date" in rejects[0]["reason"]
    assert "in the future" in rejects[1]["reason"]
    # A bad date of birth costs the field, not the customer: kept as text for matching.
    assert "row imported" in rejects[0]["reason"]
    assert (report.rows_rejected, report.fields_kept_as_text) == (1, 3)
    assert count(store_engine, "customer") == 4
    with store_engine.connect() as connection:
        kept = dict(connection.execute(text(
            "SELECT first_name, date_of_birth_raw FROM customer "
            "WHERE date_of_birth IS NULL ORDER BY id")).all())
    assert kept == {"Old": "1850-06-01", "Unborn": tomorrow, "Zero": "0000-01-01"}


def test_customer_attributes_are_checked_too(store_engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "customers.csv", [
        ["source", "external_id", "loyalty_note"],
        ["shop", "a1", "gold\x00"],
        ["shop", "a2", "silver"],
    ])
    report = ingest_file(kind="customers", path=path, engine=store_engine)
    assert report.reject_path is not None
    rejects = read_rejects(report.reject_path)
    assert [(r["row"], r["field"]) for r in rejects] == [("1", "loyalty_note")]
    assert count(store_engine, "customer") == 1


def test_future_orders_accepted_when_the_setting_allows(
        sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_customers(sqlite_engine, tmp_path)
    row = ["shop", "f1", "c1", SOON, "3", "EUR"]
    first = ingest_file(kind="transactions", engine=sqlite_engine,
                        path=write_csv(tmp_path / "a.csv", [TRANSACTIONS_HEADER, row]))
    assert first.rows_rejected == 1
    monkeypatch.setenv("KITHKIN_INGEST_FUTURE_DAYS", "400")
    get_settings.cache_clear()
    second = ingest_file(kind="transactions", engine=sqlite_engine,
                         path=write_csv(tmp_path / "b.csv", [TRANSACTIONS_HEADER, row]))
    assert (second.rows_rejected, second.inserted) == (0, 1)


def test_scheduled_dates_may_lie_ahead(sqlite_engine: Engine, tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    report = ingest_records(kind="memberships", engine=sqlite_engine, records=[
        {"source": "shop", "external_id": "m1", "customer_external_id": "c1",
         "kind": "subscription", "programme": "box", "started_at": "2024-01-01",
         "ended_at": SOON},
        {"source": "shop", "external_id": "m2", "customer_external_id": "c1",
         "kind": "subscription", "programme": "box", "started_at": "2024-01-01",
         "ended_at": "2150-01-01"},
    ])
    assert report.rows_written == 1
    assert [(r.row, r.field) for r in report.rejects] == [(2, "ended_at")]
    assert "ingest_latest_date" in report.rejects[0].reason


def test_events_with_integers_beyond_64_bits(sqlite_engine: Engine, tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    report = ingest_records(kind="lines", engine=sqlite_engine, records=[
        {"source": "shop", "order_id": "o1", "line_no": 2**70, "quantity": 1,
         "unit_price": 1},
        {"source": "shop", "order_id": "o1", "line_no": 2**40, "quantity": 1,
         "unit_price": 1},
        {"source": "shop", "order_id": "o1", "line_no": 1, "quantity": 10**400,
         "unit_price": {"nested": [1, 2]}},
    ])
    assert [(r.row, r.field) for r in report.rejects] == [
        (1, "line_no"), (2, "line_no"), (3, "quantity")]
    assert all("out of range" in r.reason for r in report.rejects[:2])


def test_a_stored_year_zero_does_not_break_reads(service: Service) -> None:
    """Imports refuse it now; a store written before (or by another tool) still reads."""
    with service.engine.begin() as conn:
        customer = conn.execute(text(
            "SELECT customer_id FROM customer_identifier WHERE external_id = 'c1'")).scalar_one()
        conn.execute(text(
            'INSERT INTO "transaction" (source, order_id, customer_id, ordered_at, amount, '
            "created_at) VALUES ('old', 'y0', :customer, '0000-01-01 00:00:00.000000', 1, "
            "'2024-01-01 00:00:00.000000')"), {"customer": customer})
    service.customer_pages_answer()
    listed = service.client.get(f"/api/v1/transactions?customer_id={customer}",
                                headers=service.headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"][0]["ordered_at"].startswith("0001-01-01")
