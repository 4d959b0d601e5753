"""Long fields and deep nesting: the bad row is rejected, the rest of the file imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from kithkin.config import get_settings
from kithkin.errors import IngestError
from kithkin.imports.ingest import ingest_file, ingest_records
from kithkin.imports.models import ImportStatus

from .helpers import count, read_rejects, write_csv

HEADER = ["source", "external_id", "first_name"]


def test_long_text_in_the_first_data_row(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "customers.csv",
                     [HEADER, ["shop", "c1", "x" * 70_000], ["shop", "c2", "Bob"]])
    report = ingest_file(kind="customers", path=path, engine=sqlite_engine)
    assert report.status == ImportStatus.SUCCEEDED
    assert report.reject_path is not None
    [reject] = read_rejects(report.reject_path)
    assert (reject["row"], reject["field"]) == ("1", "first_name")
    assert "longer than 65,536 characters" in reject["reason"]
    assert reject["value"].endswith("(70,000 characters)")  # shown cut, kept whole after
    assert count(sqlite_engine, "customer") == 1


def test_ten_megabyte_field_in_a_later_batch(store_engine: Engine, tmp_path: Path) -> None:
    rows = [["shop", f"c{i}", f"Name{i}"] for i in range(1, 1_301)]
    rows[1_200][2] = "y" * 10_000_000  # data row 1,201
    path = write_csv(tmp_path / "customers.csv", [HEADER, *rows])
    report = ingest_file(kind="customers", path=path, engine=store_engine, batch_size=400)
    assert report.status == ImportStatus.SUCCEEDED
    assert report.reject_path is not None
    [reject] = read_rejects(report.reject_path)
    assert (reject["row"], reject["field"]) == ("1201", "first_name")
    assert (report.rows_written, report.rows_rejected) == (1_299, 1)
    assert count(store_engine, "customer") == 1_299


def test_field_limit_is_a_setting(sqlite_engine: Engine, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITHKIN_INGEST_MAX_FIELD_CHARS", "1000")
    get_settings.cache_clear()
    report = ingest_records(kind="interactions", engine=sqlite_engine, records=[
        {"source": "crm", "external_id": "i1", "prospect_external_id": "p", "text": "z" * 1001,
         "occurred_at": "2024-01-01", "direction": "inbound", "kind": "inquiry"},
    ])
    assert [(r.field, r.reason) for r in report.rejects] == [
        ("text", "longer than 1,000 characters (setting ingest_max_field_chars)")]


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_json_lines_nested_100000_levels(sqlite_engine: Engine, tmp_path: Path) -> None:
    lines = [
        '{"source": "shop", "external_id": "c1", "first_name": "Ann"}',
        '{"source": "shop", "external_id": "c2", "first_name": ' + _deep(100_000) + "}",
        '{"source": "shop", "external_id": "c3", "first_name": ' + _deep(2_000) + "}",
        '{"source": "shop", "external_id": "c4", "first_name": "Dee", "tags": [[["a"]]]}',
    ]
    path = tmp_path / "customers.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = ingest_file(kind="customers", path=path, engine=sqlite_engine)
    assert report.status == ImportStatus.SUCCEEDED
    assert report.reject_path is not None
    rejects = read_rejects(report.reject_path)
    assert [r["row"] for r in rejects] == ["2", "3"]
    assert all("nested too deeply" in r["reason"] for r in rejects)
    assert count(sqlite_engine, "customer") == 2


def test_json_lines_nested_first_line_is_a_clear_error(sqlite_engine: Engine,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "customers.jsonl"
    path.write_text('{"source": ' + _deep(100_000) + "}\n")
    with pytest.raises(IngestError, match=r"customers\.jsonl: first line: JSON nested too deeply"):
        ingest_file(kind="customers", path=path, engine=sqlite_engine)


def test_events_nested_values_are_rows_not_crashes(sqlite_engine: Engine) -> None:
    deep: object = []
    for _ in range(5_000):
        deep = [deep]
    report = ingest_records(kind="interactions", engine=sqlite_engine, records=[
        {"source": "crm", "external_id": "i1", "prospect_external_id": "p", "text": deep,
         "occurred_at": "2024-01-01", "direction": "inbound", "kind": "inquiry"},
        {"source": "crm", "external_id": "i2", "prospect_external_id": "p",
         "text": {"a": [1, {"b": None}]}, "occurred_at": "2024-01-01",
         "direction": "inbound", "kind": "inquiry"},
    ])
    assert [(r.row, r.reason) for r in report.rejects] == [
        (1, "text: JSON nested too deeply"), (2, "unknown prospect")]  # 2: text was fine
