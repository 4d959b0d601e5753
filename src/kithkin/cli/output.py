"""One way for every CLI report to print rows: ``--limit`` and ``--format table|csv|json``.

Tables never cut a figure. Rich shrinks columns to the console width and ends what does
not fit with "…"; a report that says "199,2…" is wrong, not short. So numeric columns
never wrap or shrink, text columns fold (wrap inside the cell), and when even that
cannot fit, the rows print as a list of ``field: value`` lines. Output that is not a
terminal (a pipe, a log file) has no width to respect: it gets the usual width, or as
much more as the figures need. CSV and JSON are for programs; they print every column of every row
(``--limit`` still applies) with no decoration.

Deliberately light: no pandas import here (``kithkin --help`` must stay fast); data
frames are accepted by duck typing (``columns`` and ``itertuples``).
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import IO, Annotated, Any, Protocol

import typer
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

# A table shows this many rows unless --limit says otherwise; CSV and JSON show all.
DEFAULT_TABLE_ROWS = 50
# Text columns fold, but never narrower than this (or their widest cell): below it a
# list reads better than a table.
TEXT_MIN_WIDTH = 16


class OutputFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


FormatOption = Annotated[OutputFormat, typer.Option(
    "--format", help="table (for people), csv or json (for programs).",
    case_sensitive=False)]
LimitOption = Annotated[int | None, typer.Option(
    min=0, help=f"At most this many rows (0: all). Default: {DEFAULT_TABLE_ROWS} in a "
                "table, all in CSV and JSON.")]


class Frame(Protocol):
    """What we read of a pandas DataFrame."""

    @property
    def columns(self) -> Any: ...

    def itertuples(self, index: bool = ..., name: str | None = ...) -> Iterable[Any]: ...

    def reset_index(self) -> Any: ...


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# Columns of identifiers: numbers, but "1234" must not read "1,234".
_ID_NAMES = {"id", "pair", "user", "job"}


def is_id_column(name: str) -> bool:
    return name in _ID_NAMES or name.endswith(("_id", " id"))


def cell_text(value: Any, *, identifier: bool = False) -> str:
    """A value as a table shows it: thousands separators, unknown as "-" (never 0)."""
    if _missing(value):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and identifier:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float | Decimal):
        number = float(value)
        if number.is_integer() and abs(number) < 1e15:
            return f"{number:,.0f}"
        return f"{number:,.2f}" if abs(number) >= 1 else f"{number:.4g}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, separators=(", ", ": "))
    return str(value)


def _plain(value: Any) -> Any:
    """A value for JSON/CSV: unknown as null/empty, numbers as numbers."""
    if _missing(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        value = value.item()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def frame_rows(frame: Frame, *, index: bool = False) -> tuple[list[str], list[list[Any]]]:
    data = frame.reset_index() if index else frame
    return ([str(c) for c in data.columns],
            [[_plain(v) for v in row] for row in data.itertuples(index=False, name=None)])


def _numeric_columns(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[bool]:
    return [all(_is_number(r[i]) or _missing(r[i]) for r in rows)
            and any(_is_number(r[i]) for r in rows) for i in range(len(columns))]


def build_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
                title: str | None = None, show_header: bool = True,
                numeric: Sequence[bool] | None = None) -> Table:
    """A Rich table whose figures can never be cut: numeric columns are right-aligned,
    never wrap and never shrink below their widest value; text columns fold."""
    numeric = list(numeric) if numeric is not None else _numeric_columns(columns, rows)
    table = Table(title=title, show_header=show_header, box=box.SIMPLE_HEAD,
                  title_justify="left", pad_edge=False, show_edge=False)
    ids = [is_id_column(name) for name in columns]
    texts = [[cell_text(v, identifier=ids[i]) for i, v in enumerate(row)] for row in rows]
    for i, name in enumerate(columns):
        if numeric[i]:
            widest = max([len(name), *(len(t[i]) for t in texts)])
            table.add_column(name, justify="right", no_wrap=True, min_width=widest,
                             overflow="fold")
        else:
            # Short words stay whole (a tier, a date, a name); longer text folds.
            widest = max([len(name), *(len(t[i]) for t in texts)])
            table.add_column(name, overflow="fold", min_width=min(widest, TEXT_MIN_WIDTH))
    for row in texts:  # Text, not markup: a "[x]" in a customer's name stays as written
        table.add_row(*(Text(cell) for cell in row))
    return table


_UNBOUNDED = 100_000


def _measure(table: Table, console: Console) -> Measurement:
    """The table's width range with no console limit (Rich clamps to the console's)."""
    return Measurement.get(console, console.options.update_width(_UNBOUNDED), table)


def _minimum_width(table: Table, console: Console) -> int:
    return _measure(table, console).minimum


def print_table(table: Table, *, console: Console) -> None:
    """Print ``table`` whole: as wide as it needs off a terminal, folded on one, and as a
    ``field: value`` list when the terminal cannot hold even the folded table."""
    if not console.is_terminal:
        # A log has no width to respect, but a readable one: text folds at the usual
        # width; only a table whose figures need more gets more.
        wide = Console(file=console.file, width=max(_minimum_width(table, console),
                                                    console.width),
                       no_color=True, highlight=False, soft_wrap=False)
        wide.print(table)
        return
    if _minimum_width(table, console) <= console.width:
        console.print(table)
        return
    print_as_list(table, console=console)


def print_as_list(table: Table, *, console: Console) -> None:
    """Each row as indented ``header: value`` lines (for consoles narrower than a row)."""
    if table.title:
        console.print(Text(str(table.title), style="bold"))
    headers = [str(c.header) for c in table.columns]
    cells = [list(c.cells) for c in table.columns]
    for r in range(table.row_count):
        for i, header in enumerate(headers):
            value = cells[i][r]
            text = value.plain if isinstance(value, Text) else str(value)
            prefix = "- " if i == 0 else "  "
            console.print(Text(f"{prefix}{header}: " if header else prefix) + Text(text),
                          soft_wrap=True)


def emit(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str,
         output: OutputFormat = OutputFormat.TABLE, limit: int | None = None,
         console: Console | None = None, stream: IO[str] | None = None) -> None:
    """Print a report's rows in ``output`` format, at most ``limit`` rows (0: all)."""
    console = console or Console()
    total = len(rows)
    cap = (DEFAULT_TABLE_ROWS if output is OutputFormat.TABLE else 0) if limit is None else limit
    shown = list(rows[:cap]) if cap else list(rows)
    out = stream or sys.stdout
    if output is OutputFormat.CSV:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([["" if v is None else v for v in map(_plain, row)] for row in shown])
        return
    if output is OutputFormat.JSON:
        records = [dict(zip(columns, map(_plain, row), strict=True)) for row in shown]
        out.write(json.dumps(records, default=str, indent=1) + "\n")
        return
    if not shown:
        console.print(f"{title}: no rows")
        return
    print_table(build_table(columns, shown, title=title), console=console)
    if len(shown) < total:
        console.print(f"{len(shown):,} of {total:,} rows shown: --limit 0 for all, "
                      "--format csv or json for programs")


def emit_frame(frame: Frame, *, title: str, output: OutputFormat = OutputFormat.TABLE,
               limit: int | None = None, index: bool = False,
               console: Console | None = None) -> None:
    columns, rows = frame_rows(frame, index=index)
    emit(columns, rows, title=title, output=output, limit=limit, console=console)
