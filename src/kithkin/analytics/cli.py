"""``kithkin refresh``: recompute and store every customer's metrics as of a date."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from kithkin.analytics import refresh as refresh_service
from kithkin.analytics.models import ModelOptions
from kithkin.config import get_settings
from kithkin.errors import KithkinError

console = Console()


def _parse_day(value: str | None) -> date:
    if value is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def refresh(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Date the metrics are computed as of (YYYY-MM-DD); default today "
        "(UTC). Events after it are ignored.")] = None,
    discount_rate: Annotated[float, typer.Option(
        min=0.0, help="Annual discount rate of CLV.")] = 0.10,
    margin: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, help="Margin ratio of CLV; default: the data's own ratio.")] = None,
    horizon_days: Annotated[float, typer.Option(
        min=1.0, help="CLV horizon in days (365 = 12 months).")] = 365.0,
) -> None:
    """Snapshot the store, compute summaries, features and CLV, store them per customer."""
    day = _parse_day(as_of)
    settings = get_settings()
    options = ModelOptions(horizon_days=horizon_days, discount_rate_annual=discount_rate,
                           margin=margin)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console) as progress:
        tasks: dict[str, TaskID] = {}

        def on_step(name: str) -> None:
            for previous in tasks.values():
                progress.update(previous, completed=1, total=1)
            tasks[name] = progress.add_task(name, total=None)

        try:
            result = refresh_service.run(settings=settings, as_of=day, options=options,
                                         on_step=on_step)
        except KithkinError as exc:
            console.print(f"[red]refresh failed:[/] {exc}")
            raise typer.Exit(1) from exc
        for task in tasks.values():
            progress.update(task, completed=1, total=1)

    table = Table("step", "seconds", title=f"refresh as of {day} on {result.engine}")
    for name, seconds in result.timings.items():
        table.add_row(name, f"{seconds:.2f}")
    table.add_row("[bold]total", f"[bold]{sum(result.timings.values()):.2f}")
    console.print(table)
    for part in result.snapshot:
        console.print(f"snapshot {part.name}: {part.mode}, {part.rows_copied:,} rows copied, "
                      f"{part.total_rows:,} in total")
    console.print(f"stored metrics of [bold]{result.customers:,}[/] customers")
    if result.relationships is not None:
        moves = ", ".join(f"{m.model}: {m.moved_up:,} up, {m.moved_down:,} down"
                          for m in result.relationships.models)
        console.print(f"stages, health and bonds of {result.relationships.customers:,} "
                      f"customers ({moves})")
    if result.model_error:
        console.print(f"[yellow]models not fitted:[/] {result.model_error}; the other "
                      "metrics were stored, model columns are empty")


def register(app: typer.Typer) -> None:
    app.command(name="refresh")(refresh)
