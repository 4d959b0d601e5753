"""Every way a file or a row can be refused, and the message that says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from kithkin.errors import IngestError
from kithkin.imports.ingest import ingest_file, ingest_records
from kithkin.imports.ingest.options import IngestOptions

from .helpers import (
    TRANSACTIONS_HEADER,
    count,
    read_rejects,
    rows_of,
    seed_customers,
    write_csv,
)


def _import_rows(engine: Engine, folder: Path, rows: list[list[str]]) -> list[dict[str, str]]:
    path = write_csv(folder / "orders.csv", [TRANSACTIONS_HEADER, *rows])
    report = ingest_file(kind="transactions", path=path, engine=engine)
    assert report.reject_path is not None
    return read_rejects(report.reject_path)


def test_missing_required_column_names_file_and_column(sqlite_engine: Engine,
                                                       tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", [["source", "order_id", "ordered_at", "amount"],
                                               ["shop", "o1", "2024-01-01", "10"]])
    with pytest.raises(IngestError) as caught:
        ingest_file(kind="transactions", path=path, engine=sqlite_engine)
    assert caught.value.field == "customer_external_id"
    # Named as given (a server's absolute paths stay out of messages).
    assert "file orders.csv" in str(caught.value)
    assert str(tmp_path) not in str(caught.value)
    assert "missing required column 'customer_external_id'" in str(caught.value)
    assert count(sqlite_engine, "import_job") == 0  # refused before anything is written


def test_missing_required_column_names_the_column_that_looks_like_it(
        sqlite_engine: Engine, tmp_path: Path) -> None:
    # A shop export's own headers: customer_id is the commonest name of the customer's key.
    customers = write_csv(tmp_path / "customers.csv", [["customer_id", "email"],
                                                       ["C1", "ada@example.com"]])
    with pytest.raises(IngestError) as caught:
        ingest_file(kind="customers", path=customers, engine=sqlite_engine,
                    mapping=IngestOptions(constants={"source": "shop"}))
    assert "--map customer_id=external_id" in str(caught.value)
    orders = write_csv(tmp_path / "orders.csv", [["customer_id", "order_date", "total"],
                                                 ["C1", "2024-01-01", "10"]])
    with pytest.raises(IngestError) as caught:
        ingest_file(kind="transactions", path=orders, engine=sqlite_engine,
                    mapping=IngestOptions(constants={"source": "shop"}))
    message = str(caught.value)
    for hint in ("--map customer_id=customer_external_id", "--map order_date=ordered_at",
                 "--map total=amount"):
        assert hint in message


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        (["shop", "o1", "c1", "31/31/2024", "10", "EUR"], "ordered_at", "not a date-time"),
        (["shop", "o1", "c1", "2024-01-01", "ten", "EUR"], "amount", "not a number"),
        (["shop", "o1", "c9", "2024-01-01", "10", "EUR"], "customer_external_id",
         "unknown customer"),
        (["shop", "o1", "c1", "", "10", "EUR"], "ordered_at", "required value missing"),
        (["shop", "o1", "c1", "2024-01-01", "10", "EURO"], "currency",
         "longer than 3 characters"),
    ],
)
def test_bad_row_goes_to_reject_file(seeded_sqlite: Engine, tmp_path: Path, row: list[str],
                                     field: str, reason: str) -> None:
    good = ["shop", "o2", "c2", "2024-01-02", "5", "EUR"]  # the same good row every case
    rejects = _import_rows(seeded_sqlite, tmp_path, [good, row])
    assert len(rejects) == 1
    assert rejects[0]["row"] == "2"  # 1-based data row, header excluded
    assert rejects[0]["field"] == field
    assert reason in rejects[0]["reason"]
    assert rejects[0]["order_id"] == "o1"  # original columns kept
    assert count(seeded_sqlite, "transaction") == 1


@pytest.mark.parametrize(
    ("record", "field", "reason"),
    [
        ({"direction": "sideways"}, "direction", "not one of inbound, outbound"),
        ({"kind": "gossip"}, "kind", "not one of"),
        ({"channel": "pigeon"}, "channel", "not one of"),
        ({"score": "11", "score_scale": "nps"}, "score", "nps score must be between 0 and 10"),
        ({"score": "0", "score_scale": "csat"}, "score", "csat score must be between 1 and 5"),
        ({"score": "3"}, "score_scale", "needs its score_scale"),
        ({"score_scale": "stars", "score": "3"}, "score_scale", "not one of nps, csat"),
        ({"customer_external_id": None}, "customer_external_id",
         "needs one of customer_external_id, prospect_external_id"),
    ],
)
def test_interaction_enums_and_scores(seeded_sqlite: Engine, record: dict[str, str | None],
                                      field: str, reason: str) -> None:
    base = {"source": "desk", "external_id": "e1", "customer_external_id": "c1",
            "customer_source": "shop", "occurred_at": "2024-03-01T10:00:00Z",
            "direction": "inbound", "kind": "complaint"}
    report = ingest_records(kind="interactions", records=[{**base, **record}],
                            engine=seeded_sqlite)
    assert report.rows_rejected == 1
    assert report.rejects[0].field == field
    assert reason in report.rejects[0].reason
    assert count(seeded_sqlite, "interaction") == 0


def test_valid_scores_are_accepted(sqlite_engine: Engine, tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    base = {"source": "desk", "customer_external_id": "c1", "customer_source": "shop",
            "occurred_at": "2024-03-01", "direction": "Inbound", "kind": "Survey Response"}
    records = [{**base, "external_id": "a", "score": "0", "score_scale": "nps"},
               {**base, "external_id": "b", "score": "5", "score_scale": "CSAT"}]
    report = ingest_records(kind="interactions", records=records, engine=sqlite_engine)
    assert report.rows_rejected == 0, report.rejects
    assert count(sqlite_engine, "interaction") == 2


def test_duplicate_key_in_one_file_last_row_wins(sqlite_engine: Engine,
                                                 tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    path = write_csv(tmp_path / "orders.csv", [
        TRANSACTIONS_HEADER,
        ["shop", "o1", "c1", "2024-01-01", "10", "EUR"],
        ["shop", "o1", "c1", "2024-01-01", "12", "EUR"],
    ])
    report = ingest_file(kind="transactions", path=path, engine=sqlite_engine)
    assert report.duplicates == 1 and report.rows_rejected == 0
    (row,) = rows_of(sqlite_engine, "transaction")
    assert "12.0" in row or "12" in row


def test_duplicates_across_batches_also_end_with_the_last(sqlite_engine: Engine,
                                                          tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    rows = [["shop", f"o{i}", "c1", "2024-01-01", "1", "EUR"] for i in range(300)]
    rows.append(["shop", "o0", "c1", "2024-01-01", "99", "EUR"])
    path = write_csv(tmp_path / "orders.csv", [TRANSACTIONS_HEADER, *rows])
    ingest_file(kind="transactions", path=path, engine=sqlite_engine, batch_size=100)
    amounts = {r[1]: r[4] for r in rows_of(sqlite_engine, "transaction")}
    assert float(amounts["o0"]) == 99


def test_empty_file(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(b"")
    with pytest.raises(IngestError, match="file is empty"):
        ingest_file(kind="transactions", path=path, engine=sqlite_engine)


def test_header_only_file_imports_nothing(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", [TRANSACTIONS_HEADER])
    report = ingest_file(kind="transactions", path=path, engine=sqlite_engine)
    assert (report.rows_read, report.rows_written, report.status) == (0, 0, "succeeded")


def test_unknown_format_and_unreadable_files(sqlite_engine: Engine, tmp_path: Path) -> None:
    odd = tmp_path / "orders.xlsx"
    odd.write_text("x")
    with pytest.raises(IngestError, match="cannot tell the format"):
        ingest_file(kind="transactions", path=odd, engine=sqlite_engine)
    with pytest.raises(IngestError, match="unknown format"):
        ingest_file(kind="transactions", path=odd, file_format="xlsx", engine=sqlite_engine)
    with pytest.raises(IngestError, match="file not found"):
        ingest_file(kind="transactions", path=tmp_path / "nope.csv", engine=sqlite_engine)
    broken = tmp_path / "orders.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(IngestError, match="not a readable Parquet file"):
        ingest_file(kind="transactions", path=broken, engine=sqlite_engine)


def test_unknown_kind(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", [["a"], ["b"]])
    with pytest.raises(IngestError, match="unknown kind 'orders'"):
        ingest_file(kind="orders", path=path, engine=sqlite_engine)


def test_malformed_csv_rows_are_rejected_with_their_row_number(sqlite_engine: Engine,
                                                               tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    path = tmp_path / "orders.csv"
    path.write_text(
        ",".join(TRANSACTIONS_HEADER) + "\n"
        "shop,o1,c1,2024-01-01,10,EUR\n"
        "shop,o2,c1,2024-01-01\n"
        "shop,o3,c1,2024-01-01,10,EUR\n"
    )
    report = ingest_file(kind="transactions", path=path, engine=sqlite_engine)
    assert (report.rows_read, report.rows_written, report.rows_rejected) == (3, 2, 1)
    assert report.reject_path is not None
    (reject,) = read_rejects(report.reject_path)
    assert reject["row"] == "2" and "malformed CSV row" in reject["reason"]
    assert reject["value"] == "shop,o2,c1,2024-01-01"
