"""Files as they come: delimiter, encoding and header are detected, or given."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from kithkin.errors import IngestError, ValidationError
from kithkin.imports.ingest import IngestOptions, ingest_file
from kithkin.imports.ingest.options import build_options
from kithkin.imports.ingest.sniff import (
    WHITESPACE,
    detect_delimiter,
    detect_encoding,
    parse_delimiter,
)

from .helpers import count

ROWS = [["source", "external_id", "first_name", "city"],
        ["shop", "c1", "Ann", "Lyon"], ["shop", "c2", "Bob", "Saint Malo"],
        ["shop", "c3", "Cy", "Nice"]]


def _text(delimiter: str) -> str:
    return "".join(delimiter.join(row) + "\n" for row in ROWS)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_is_detected(delimiter: str) -> None:
    assert detect_delimiter(_text(delimiter)) == delimiter


def test_runs_of_whitespace_are_detected_and_commas_inside_values_are_not() -> None:
    log = "00001 19970101  1  11.77\n00002   19970112 2 12.00\n"
    assert detect_delimiter(log) == WHITESPACE
    # A comma file whose values hold spaces stays a comma file.
    assert detect_delimiter("name,city\nAnn Lee,Saint Malo\nBob Ray,Le Mans\n") == ","


@pytest.mark.parametrize(("given", "expected"), [
    (",", ","), (";", ";"), ("tab", "\t"), ("\\t", "\t"), ("TAB", "\t"), ("|", "|"),
    ("whitespace", WHITESPACE), ("auto", None), (None, None)])
def test_delimiter_option_spellings(given: str | None, expected: str | None) -> None:
    assert parse_delimiter(given) == expected


def test_an_unknown_delimiter_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown delimiter '::'"):
        build_options(kind="customers", delimiter="::")


def test_encodings_are_detected(tmp_path: Path) -> None:
    cases = {"utf8.csv": "Zoë,€\n".encode(), "cp1252.csv": "Zoë,€\n".encode("cp1252"),
             "latin1.csv": "Zoë,\x81\n".encode("latin-1"),
             "utf16.csv": codecs.BOM_UTF16_LE + "a,b\n".encode("utf-16-le")}
    found = {}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        found[name] = detect_encoding(tmp_path / name)
    assert found == {"utf8.csv": "utf-8", "cp1252.csv": "cp1252", "latin1.csv": "latin-1",
                     "utf16.csv": "utf-16"}


@pytest.mark.parametrize(("delimiter", "suffix"), [(";", ".csv"), ("\t", ".tsv"),
                                                   ("|", ".txt")])
def test_semicolon_tab_and_pipe_files_import_without_options(
        sqlite_engine: Engine, tmp_path: Path, delimiter: str, suffix: str) -> None:
    path = tmp_path / f"clients{suffix}"
    path.write_bytes(_text(delimiter).encode("cp1252"))
    report = ingest_file(kind="customers", path=path, engine=sqlite_engine)
    assert report.rows_written == 3 and report.rows_rejected == 0, report
    with sqlite_engine.connect() as conn:
        cities = set(conn.execute(text("SELECT city FROM customer")).scalars())
    assert cities == {"Lyon", "Saint Malo", "Nice"}


def test_a_semicolon_file_forced_to_commas_hints_at_the_delimiter(
        sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "clients.csv"
    path.write_text(_text(";"), encoding="utf-8")
    with pytest.raises(IngestError) as caught:
        ingest_file(kind="customers", path=path, engine=sqlite_engine,
                    mapping=IngestOptions(delimiter=","))
    message = str(caught.value)
    assert "read as ONE column" in message and "--delimiter" in message
    assert count(sqlite_engine, "customer") == 0


def test_a_headerless_file_gets_positional_names_and_a_hint(sqlite_engine: Engine,
                                                           tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_text("1001 2024-01-02 3 30.50\n1002 2024-01-03 1 9.99\n", encoding="utf-8")
    with pytest.raises(IngestError) as caught:
        ingest_file(kind="customers", path=path, engine=sqlite_engine)
    message = str(caught.value)
    assert "column_1, column_2, column_3, column_4" in message
    assert "--columns" in message
    report = ingest_file(kind="customers", path=path, engine=sqlite_engine,
                         mapping=IngestOptions(columns={"column_1": "external_id"},
                                               constants={"source": "log"}))
    assert report.rows_written == 2
    assert "header none (detected)" in (report.layout or "")
    assert report.ignored_columns == []  # customers keep unknown columns as attributes


def test_a_delimiter_option_makes_any_extension_a_text_file(sqlite_engine: Engine,
                                                            tmp_path: Path) -> None:
    """A POS log called ``sales.log``: saying how it is split is saying it is text."""
    path = tmp_path / "sales.log"
    path.write_text("1001 20240102 3 30.50\n1002 20240103 1 9.99\n", encoding="utf-8")
    with pytest.raises(IngestError, match="--format"):
        ingest_file(kind="customers", path=path, engine=sqlite_engine)
    report = ingest_file(kind="customers", path=path, engine=sqlite_engine,
                         mapping=IngestOptions(delimiter="whitespace",
                                               columns={"column_1": "external_id"},
                                               constants={"source": "pos"}))
    assert report.rows_written == 2


def test_names_must_match_the_number_of_fields(sqlite_engine: Engine,
                                               tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_text("1001 2024-01-02 3 30.50\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"3 column names given .* 4 fields"):
        ingest_file(kind="transactions", path=path, engine=sqlite_engine,
                    mapping=IngestOptions(names=["customer_external_id", "ordered_at",
                                                 "amount"]))


def test_a_whitespace_row_with_a_missing_field_is_rejected_with_its_row(
        sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_text("c1 20240102 1 10.00\nc2 20240103 2\nc3 20240104 1 5.00\n",
                    encoding="utf-8")
    report = ingest_file(kind="transactions", path=path, engine=sqlite_engine,
                         mapping=IngestOptions(
                             names=["customer_external_id", "ordered_at", "quantity",
                                    "amount"],
                             constants={"source": "log"}, create_customers=True))
    assert (report.rows_written, report.rows_rejected) == (2, 1)
    assert report.reject_path is not None
    rejected = report.reject_path.read_text(encoding="utf-8")
    assert "3 whitespace-separated fields, expected 4" in rejected
    assert rejected.splitlines()[1].startswith("2,")  # data row 2
