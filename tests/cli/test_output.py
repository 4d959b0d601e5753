"""Report output: --limit and --format, and tables that never cut a figure or header."""

from __future__ import annotations

import csv
import io
import json

import pytest
from rich.console import Console

from kithkin.cli import output
from kithkin.demo.cli import import_table
from kithkin.imports.ingest.cli import _summary
from kithkin.imports.schemas import ImportReport

REPORTS = [
    ImportReport(job_id=1, kind="customers", file="customers.csv", status="done",
                 rows_read=199_234, rows_written=199_234, inserted=188_634, unchanged=0,
                 updated=10_600, matched={"email": 10_600}, elapsed_seconds=2.5),
    ImportReport(job_id=2, kind="transaction_lines", file="lines.csv", status="done",
                 rows_read=12_345_678, rows_written=12_345_678, inserted=12_345_678,
                 unchanged=1_234_567, elapsed_seconds=61.0),
]
FIGURES = ["199,234", "188,634", "10,600", "12,345,678", "1,234,567", "202,388"]
HEADERS = ["matched", "unchanged", "rejected", "rows/s"]


def rendered(table: object, *, width: int, terminal: bool) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=terminal, no_color=True,
                      legacy_windows=False)
    output.print_table(table, console=console)  # type: ignore[arg-type]
    return buffer.getvalue()


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "log"])
@pytest.mark.parametrize("width", [80, 40])
def test_demo_import_table_shows_every_figure_and_header_whole(width: int,
                                                              terminal: bool) -> None:
    text = rendered(import_table(REPORTS), width=width, terminal=terminal)
    assert "…" not in text
    for figure in [*FIGURES, *HEADERS]:
        assert figure in text, (figure, text)
    if terminal:
        assert max(len(line) for line in text.splitlines()) <= width


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "log"])
def test_import_summary_at_80_columns_cuts_nothing(terminal: bool) -> None:
    report = REPORTS[0].model_copy(update={"file": "/very/long/path/" + "x" * 90 + ".csv"})
    text = rendered(_summary(report), width=80, terminal=terminal)
    assert "…" not in text
    assert "188,634 / 10,600 / 0" in text and "superseded duplicates (last wins)" in text


def test_numbers_that_cannot_fit_switch_to_a_list_not_an_ellipsis() -> None:
    table = output.build_table(["kind", *HEADERS], [["customers", 10_600, 1_234_567, 0, 5]])
    text = rendered(table, width=30, terminal=True)
    assert "unchanged: 1,234,567" in text and "…" not in text


ROWS = [[1, "Ada", 10.5, None], [2, "Grace", 1_234_567.25, True], [3, "Li", 0.0, False]]
COLUMNS = ["customer_id", "name", "clv", "flag"]


def test_csv_and_json_print_plain_values_with_unknown_as_empty_or_null(
        capsys: pytest.CaptureFixture[str]) -> None:
    output.emit(COLUMNS, ROWS, title="t", output=output.OutputFormat.CSV)
    parsed = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert parsed[0] == COLUMNS and parsed[2] == ["2", "Grace", "1234567.25", "True"]
    assert parsed[1][3] == ""
    output.emit(COLUMNS, ROWS, title="t", output=output.OutputFormat.JSON, limit=2)
    records = json.loads(capsys.readouterr().out)
    assert records == [{"customer_id": 1, "name": "Ada", "clv": 10.5, "flag": None},
                       {"customer_id": 2, "name": "Grace", "clv": 1234567.25, "flag": True}]


def test_table_limit_says_how_many_rows_were_left_out() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=80)
    output.emit(COLUMNS, ROWS, title="t", limit=2, console=console)
    text = buffer.getvalue()
    assert "2 of 3 rows shown" in text and "Li" not in text
    assert "1,234,567.25" in text and "-" in text  # unknown is "-", never 0


def test_cells_are_text_not_markup() -> None:
    table = output.build_table(["name", "orders"], [["Ada [bold]Lovelace[/bold] [x]", 3]])
    text = rendered(table, width=80, terminal=False)
    assert "Ada [bold]Lovelace[/bold] [x]" in text


def test_a_stage_named_like_an_id_column_keeps_its_thousands_separator() -> None:
    """The ladder has a stage called "customer": a count, not an identifier."""
    counts, ids = io.StringIO(), io.StringIO()
    output.print_table(output.build_table(["as of", "customer"], [["2025-12-31", 8943]]),
                       console=Console(file=counts))
    assert "8,943" in counts.getvalue()
    output.print_table(output.build_table(["customer id"], [[8943]]),
                       console=Console(file=ids))
    assert "8943" in ids.getvalue() and "8,943" not in ids.getvalue()
