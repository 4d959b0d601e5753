"""Strict and dry-run modes, mappings, input formats, the job record and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from kithkin.cli.main import app
from kithkin.errors import IngestError
from kithkin.imports.ingest import IngestOptions, ingest_file, load_mapping_file

from .helpers import (
    CUSTOMERS,
    TRANSACTIONS_HEADER,
    count,
    read_rejects,
    rows_of,
    seed_customers,
    write_csv,
)

GOOD = [["shop", f"o{i}", "c1", "2024-01-01", "10", "EUR"] for i in range(250)]


def _orders_with_bad_row(folder: Path) -> Path:
    rows = [*GOOD[:200], ["shop", "bad", "c1", "2024-01-01", "lots", "EUR"], *GOOD[200:]]
    return write_csv(folder / "orders.csv", [TRANSACTIONS_HEADER, *rows])


def test_strict_aborts_on_first_bad_row_and_writes_nothing(sqlite_engine: Engine,
                                                           tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    path = _orders_with_bad_row(tmp_path)
    with pytest.raises(IngestError) as caught:
        ingest_file(kind="transactions", path=path, engine=sqlite_engine, strict=True,
                    batch_size=100)  # the bad row is in the third batch
    assert (caught.value.row, caught.value.field) == (201, "amount")
    assert "file orders.csv" in str(caught.value) and "not a number" in str(caught.value)
    assert count(sqlite_engine, "transaction") == 0
    with sqlite_engine.connect() as conn:
        status, error = conn.execute(text(
            "SELECT status, error FROM import_job ORDER BY id DESC LIMIT 1")).one()
    assert status == "failed" and "row 201" in str(error)


def test_strict_unknown_customer_also_aborts(sqlite_engine: Engine, tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    path = write_csv(tmp_path / "o.csv", [TRANSACTIONS_HEADER, GOOD[0],
                                          ["shop", "x", "nobody", "2024-01-01", "1", "EUR"]])
    with pytest.raises(IngestError, match="unknown customer"):
        ingest_file(kind="transactions", path=path, engine=sqlite_engine, strict=True)
    assert count(sqlite_engine, "transaction") == 0


def test_dry_run_validates_and_writes_nothing(sqlite_engine: Engine, tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    jobs_before = count(sqlite_engine, "import_job")
    report = ingest_file(kind="transactions", path=_orders_with_bad_row(tmp_path),
                         engine=sqlite_engine, dry_run=True, batch_size=100)
    assert report.dry_run and report.job_id is None
    assert (report.rows_read, report.rows_written, report.rows_rejected) == (251, 250, 1)
    assert report.inserted == 250  # what a real run would do
    assert count(sqlite_engine, "transaction") == 0
    assert count(sqlite_engine, "import_job") == jobs_before
    customers = write_csv(tmp_path / "more.csv", [CUSTOMERS[0], ["web", "w1", "Z", "", "",
                                                                "", ""]])
    ingest_file(kind="customers", path=customers, engine=sqlite_engine, dry_run=True)
    assert count(sqlite_engine, "customer") == 3


def test_mapping_file_columns_defaults_and_options(sqlite_engine: Engine,
                                                   tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    mapping = tmp_path / "shop.toml"
    mapping.write_text(
        '[columns]\n"Order #" = "order_id"\n"Client" = "customer_external_id"\n'
        '"Date" = "ordered_at"\n"Total" = "amount"\n'
        '[defaults]\nsource = "shop"\n'
        '[options]\ntimezone = "Europe/Paris"\ndecimal_comma = true\nday_first = true\n'
    )
    path = write_csv(tmp_path / "export.csv", [
        ["Order #", "Client", "Date", "Total", "Note"],
        ["1001", "c1", "01/07/2024 12:00", "1.234,50 €", "gift"],
    ])
    report = ingest_file(kind="transactions", path=path, mapping=mapping, engine=sqlite_engine)
    assert report.rows_written == 1 and report.ignored_columns == ["Note"]
    with sqlite_engine.connect() as conn:
        source, ordered, amount = conn.execute(text(
            'SELECT source, ordered_at, amount FROM "transaction"')).one()
    assert source == "shop" and str(ordered).startswith("2024-07-01 10:00:00")
    assert float(str(amount)) == 1234.5


def test_map_flags_and_bad_mapping(sqlite_engine: Engine, tmp_path: Path) -> None:
    options = IngestOptions().with_mapping(["id=external_id", "src=source"])
    path = write_csv(tmp_path / "c.csv", [["src", "id", "Email"], ["web", "9", "a@b.co"]])
    report = ingest_file(kind="customers", path=path, mapping=options, engine=sqlite_engine)
    assert report.inserted == 1
    with pytest.raises(IngestError, match="not a customers field"):
        ingest_file(kind="customers", path=path, engine=sqlite_engine,
                    mapping=IngestOptions(columns={"id": "identifier"}))
    bad = tmp_path / "bad.toml"
    bad.write_text("[colums]\n")
    with pytest.raises(Exception, match="unknown section"):
        load_mapping_file(bad)


def test_json_lines_and_parquet_inputs(sqlite_engine: Engine, tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    jsonl = tmp_path / "orders.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in [
        {"source": "shop", "order_id": "j1", "customer_external_id": "c1",
         "ordered_at": 1709287200, "amount": 12.5},
        {"source": "shop", "order_id": "j2", "customer_external_id": "c2",
         "ordered_at": "2024-03-01T10:00:00Z", "amount": "7"},
    ]) + "\n{not json\n")
    report = ingest_file(kind="transactions", path=jsonl, engine=sqlite_engine)
    assert (report.rows_written, report.rows_rejected) == (2, 1)
    assert report.reject_path is not None
    assert read_rejects(report.reject_path)[0]["row"] == "3"
    parquet = tmp_path / "orders.parquet"
    pq.write_table(pa.table({
        "source": ["shop", "shop"], "order_id": ["p1", "j1"],
        "customer_external_id": ["c3", "c1"],
        "ordered_at": pa.array([1709287200_000000, 1709287200_000000],
                               pa.timestamp("us", tz="UTC")),
        "amount": [3.0, 12.5],
    }), parquet)
    report = ingest_file(kind="transactions", path=parquet, engine=sqlite_engine)
    assert (report.inserted, report.unchanged, report.rows_rejected) == (1, 1, 0)
    assert count(sqlite_engine, "transaction") == 3


def test_job_records_counts_and_reject_path(sqlite_engine: Engine, tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    report = ingest_file(kind="transactions", path=_orders_with_bad_row(tmp_path),
                         engine=sqlite_engine)
    with sqlite_engine.connect() as conn:
        job = conn.execute(text(
            "SELECT status, rows_read, rows_written, rows_rejected, reject_path, file_sha256 "
            "FROM import_job WHERE id = :id"), {"id": report.job_id}).one()
    assert tuple(job[:4]) == ("succeeded", 251, 250, 1)
    assert job[4] == str(report.reject_path) and len(job[5]) == 64


def test_cli_import_summary_and_exit_codes(sqlite_engine: Engine, tmp_path: Path) -> None:
    runner = CliRunner()
    customers = write_csv(tmp_path / "customers.csv", CUSTOMERS)
    result = runner.invoke(app, ["import", "customers", str(customers)])
    assert result.exit_code == 0, result.output
    assert "written" in result.output and "rows/s" in result.output
    orders = _orders_with_bad_row(tmp_path)
    result = runner.invoke(app, ["import", "transactions", str(orders), "--map",
                                 "order_id=order_id"])
    assert result.exit_code == 0, result.output
    assert "rejected rows:" in result.output
    result = runner.invoke(app, ["import", "transactions", str(orders), "--strict"])
    assert result.exit_code == 2
    assert "row 201" in result.output
    missing = write_csv(tmp_path / "m.csv", [["source", "order_id"], ["a", "b"]])
    result = runner.invoke(app, ["import", "transactions", str(missing)])
    assert result.exit_code == 2 and "missing required column" in result.output
    assert count(sqlite_engine, "transaction") == 250
    assert rows_of(sqlite_engine, "transaction")  # the CLI wrote to the workspace store
