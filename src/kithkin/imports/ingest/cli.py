"""`kithkin import KIND FILE`: a progress bar while it runs, a summary table after."""

from __future__ import annotations

import shlex
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

from kithkin.cli import output
from kithkin.errors import KithkinError, ValidationError
from kithkin.imports.ingest.kinds import Kind
from kithkin.imports.ingest.options import build_options, load_mapping_file
from kithkin.imports.ingest.pipeline import ingest_file
from kithkin.imports.schemas import ImportReport

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
    """Label and value rows; both columns fold rather than cut (kithkin.cli.output)."""
    rows: list[tuple[str, str]] = [
        ("status", report.status + (" (dry run: nothing written)" if report.dry_run else "")),
        ("job", str(report.job_id) if report.job_id is not None else "-"),
        ("mode", "bulk (one transaction, indexes rebuilt)" if report.bulk else "per batch"),
        ("read", f"{report.rows_read:,}"),
        ("written", f"{report.rows_written:,}"),
        ("  inserted / updated / unchanged",
         f"{report.inserted:,} / {report.updated:,} / {report.unchanged:,}"),
        ("superseded duplicates (last wins)", f"{report.duplicates:,}"),
        *([("rows added into another row's order", f"{report.combined:,}")]
          if report.combined else []),
        *([("skipped (status in skip_statuses)", f"{report.skipped:,}")]
          if report.skipped else []),
        *([("not-a-sale statuses kept", ", ".join(
            f"{status} {count:,}" for status, count in sorted(report.doubtful_statuses.items()))
            + ": counted as sales; leave them out with --skip-status STATUS")]
          if report.doubtful_statuses else []),
        ("rejected", f"{report.rows_rejected:,}"),
        *([("customers created", f"{report.customers_created:,}")]
          if report.customers_created else []),
        *([("bad optional fields kept as text", f"{report.fields_kept_as_text:,}")]
          if report.fields_kept_as_text else []),
        ("elapsed", f"{report.elapsed_seconds:.2f} s"),
        ("rows/s", f"{report.rows_per_second:,.0f}"),
    ]
    rows.extend((f"matched by {rule}", f"{count:,}") for rule, count in report.matched.items())
    if report.layout:
        rows.insert(2, ("read as", report.layout))
    rows.append(("ignored columns (not imported)",
                 ", ".join(report.ignored_columns) if report.ignored_columns else "none"))
    if report.attribute_columns:
        rows.append(("kept as attributes (not a field)", ", ".join(report.attribute_columns)))
    rows.extend((f"column {column!r} looks like {field}",
                 f"--map {shlex.quote(f'{column}={field}')}")
                for column, field in report.column_hints.items())
    table = output.build_table(["", ""], rows, title=f"import {report.kind} from {report.file}",
                               show_header=False, numeric=[False, False])
    table.columns[0].style = "bold"
    table.columns[1].justify = "right"
    return table


def import_command(
    kind: Annotated[Kind, typer.Argument(help="What the file holds.")],
    file: Annotated[Path, typer.Argument(
        help="CSV (any delimiter), Parquet or JSON Lines file.")],
    map_: Annotated[list[str] | None, typer.Option(
        "--map", help="Rename a column: source_col=field (repeatable).")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="The same value for every row: field=value, e.g. --set source=shop "
        "(repeatable; wins over a column of that field).")] = None,
    preset: Annotated[str | None, typer.Option(
        help="Mapping preset for a common export: generic (orders export), shopify "
        "(orders export), stripe (charges export). --map/--set/--mapping refine it.")
    ] = None,
    mapping: Annotated[Path | None, typer.Option(
        help="TOML mapping file: [columns], [set], [defaults], [options].")] = None,
    file_format: Annotated[str | None, typer.Option(
        "--format", help="csv, parquet or jsonl (default: from the extension; .txt, "
        ".tsv and .dat are text).")] = None,
    delimiter: Annotated[str, typer.Option(
        help="Field delimiter of a text file: ',', ';', tab, '|' or whitespace (runs of "
        "spaces), or auto.")] = "auto",
    header: Annotated[bool | None, typer.Option(
        "--header/--no-header", show_default="auto",
        help="Whether the first row names the columns (default: detected; without a "
        "header columns are column_1, column_2... or the --columns names).")] = None,
    columns: Annotated[str | None, typer.Option(
        help="Names of the columns of a file without a header, in order, comma-separated "
        "(fields or names to --map), e.g. customer_external_id,ordered_at,quantity,amount.")
    ] = None,
    create_customers: Annotated[bool, typer.Option(
        "--create-customers", help="Rows naming an unknown customer create it (source and "
        "id only) instead of being rejected.")] = False,
    encoding: Annotated[str, typer.Option(
        help="Text encoding of a CSV or JSON Lines file (utf-8, latin-1, cp1252...) or "
        "auto.")] = "auto",
    timezone: Annotated[str | None, typer.Option(
        help="Zone of naive date-times (default UTC or the mapping file's).")] = None,
    skip_status: Annotated[list[str] | None, typer.Option(
        "--skip-status", help="Leave out transactions whose status is this (refunded, "
        "cancelled...; repeatable, any case): they are not sales.")] = None,
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
    when run again. Transactions without an order id column get one order per customer
    and timestamp (ids generated, stable across re-imports); see docs/ingestion.md."""
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        options = build_options(
            kind=kind.value, preset=preset,
            mapping=load_mapping_file(mapping) if mapping else None,
            columns=map_ or [], constants=set_ or [], delimiter=delimiter, header=header,
            names=columns, create_customers=create_customers, timezone=timezone,
            skip_statuses=skip_status)
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), RowsPerSecond(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task(f"importing {kind.value}", total=None)

            def advance(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=max(total or 0, done) or None)

            report = ingest_file(kind=kind, path=file, mapping=options, file_format=file_format,
                                 strict=strict, dry_run=dry_run, progress=advance,
                                 batch_size=batch_size, bulk=bulk, encoding=encoding)
    except (ValidationError, ValueError) as exc:  # bad file or option; ValueError: --timezone
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
    output.print_table(_summary(report), console=out)
    if report.reject_path:
        out.print(f"rejected rows: {report.reject_path}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)


if __name__ == "__main__":  # `python -m kithkin.imports.ingest.cli`: this command only
    typer.run(import_command)
