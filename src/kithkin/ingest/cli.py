"""`kithkin import KIND FILE`: a progress bar while it runs, a summary table after."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from kithkin.errors import IngestError, KithkinError
from kithkin.imports.schemas import ImportReport
from kithkin.ingest.kinds import Kind
from kithkin.ingest.options import IngestOptions, load_mapping_file
from kithkin.ingest.pipeline import ingest_file

console = Console(stderr=True)


class RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="cyan")


def _error(exc: Exception) -> None:
    console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
    for note in getattr(exc, "__notes__", []):
        console.print(escape(note), soft_wrap=True)


def _terminate_as_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _summary(report: ImportReport) -> Table:
    table = Table(title=f"import {report.kind} from {report.file}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows: list[tuple[str, str]] = [
        ("status", report.status + (" (dry run: nothing written)" if report.dry_run else "")),
        ("job", str(report.job_id) if report.job_id is not None else "-"),
        ("mode", "bulk (one transaction, indexes rebuilt)" if report.bulk else "per batch"),
        ("read", f"{report.rows_read:,}"),
        ("written", f"{report.rows_written:,}"),
        ("  inserted / updated / unchanged",
         f"{report.inserted:,} / {report.updated:,} / {report.unchanged:,}"),
        ("superseded duplicates (last wins)", f"{report.duplicates:,}"),
        ("rejected", f"{report.rows_rejected:,}"),
        ("bad optional fields kept as text", f"{report.fields_kept_as_text:,}"),
        ("elapsed", f"{report.elapsed_seconds:.2f} s"),
        ("rows/s", f"{report.rows_per_second:,.0f}"),
    ]
    rows.extend((f"matched by {rule}", f"{count:,}") for rule, count in report.matched.items())
    if report.ignored_columns:
        rows.append(("ignored columns", ", ".join(report.ignored_columns)))
    for name, value in rows:
        table.add_row(name, value)
    return table


def import_command(
    kind: Annotated[Kind, typer.Argument(help="What the file holds.")],
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON Lines file.")],
    map_: Annotated[list[str] | None, typer.Option(
        "--map", help="Rename a column: source_col=field (repeatable).")] = None,
    mapping: Annotated[Path | None, typer.Option(
        help="TOML mapping file: [columns], [defaults], [options].")] = None,
    file_format: Annotated[str | None, typer.Option(
        "--format", help="csv, parquet or jsonl (default: from the extension).")] = None,
    encoding: Annotated[str, typer.Option(
        help="Text encoding of a CSV or JSON Lines file (latin-1, cp1252...).")
    ] = "utf-8",
    timezone: Annotated[str | None, typer.Option(
        help="Zone of naive date-times (default UTC or the mapping file's).")] = None,
    strict: Annotated[bool, typer.Option(
        help="Abort on the first bad row; nothing is written.")] = False,
    dry_run: Annotated[bool, typer.Option(
        help="Validate and report without writing to the store.")] = False,
    batch_size: Annotated[int | None, typer.Option(
        min=100, help="Rows per transaction (default: settings.import_batch_size).")] = None,
    bulk: Annotated[bool | None, typer.Option(
        "--bulk/--no-bulk", show_default="auto",
        help="SQLite bulk-load mode: one transaction, secondary indexes rebuilt at the end "
             "(default: on when the file is large next to the table).")] = None,
) -> None:
    """Import customers, prospects, products, transactions, lines, interactions or
    memberships. Re-running the same file changes nothing; an interrupted import finishes
    when run again."""
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        options = load_mapping_file(mapping) if mapping else IngestOptions()
        if timezone:
            options = IngestOptions.model_validate(
                {**options.model_dump(), "timezone": timezone})
        options = options.with_mapping(map_ or [])
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), RowsPerSecond(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task(f"importing {kind.value}", total=None)

            def advance(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=max(total or 0, done) or None)

            report = ingest_file(kind=kind, path=file, mapping=options, file_format=file_format,
                                 strict=strict, dry_run=dry_run, progress=advance,
                                 batch_size=batch_size, bulk=bulk, encoding=encoding)
    except (IngestError, ValueError) as exc:  # ValueError: a bad --timezone
        _error(exc)
        raise typer.Exit(2) from exc
    except KithkinError as exc:
        _error(exc)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt as exc:
        console.print("[yellow]interrupted[/]: committed batches are kept; run the same "
                      "command again to finish (already imported rows are not duplicated)")
        for note in getattr(exc, "__notes__", []):
            console.print(escape(note), soft_wrap=True)
        raise typer.Exit(130) from None
    out = Console()
    out.print(_summary(report))
    if report.reject_path:
        out.print(f"rejected rows: {report.reject_path}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)


if __name__ == "__main__":  # `python -m kithkin.ingest.cli KIND FILE`: no other commands loaded
    typer.run(import_command)
