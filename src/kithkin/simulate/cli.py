"""``kithkin simulate``: write a synthetic business with hidden ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from kithkin.simulate.schemas import FileFormat
from kithkin.simulate.service import simulate_business

console = Console()


def simulate(
    out_dir: Annotated[Path, typer.Argument(help="Folder for the files (created).")],
    customers: Annotated[int, typer.Option(min=1, help="Persons who become customers.")] = 10_000,
    years: Annotated[float, typer.Option(min=0.1, help="Length of the history.")] = 3.0,
    seed: Annotated[int, typer.Option(min=0, help="Same seed, same files.")] = 0,
    fmt: Annotated[FileFormat, typer.Option("--format", help="csv or parquet.")] = "csv",
    duplicates_rate: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Share of persons with a second (crm) record.")] = 0.05,
    hard: Annotated[bool, typer.Option(
        "--hard", help="Noisier duplicates: more typos, missing emails and phones.")] = False,
    one_time_buyers: Annotated[float, typer.Option(
        min=0.0, max=1.0,
        help="Share of customers who leave right after their first order.")] = 0.0,
) -> None:
    """Generate customers, orders, interactions, memberships and prospects, import-ready.

    Ground truth (latent rates, defections, duplicate clusters) goes to OUT_DIR/truth.
    """
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("customers", total=customers)
        summary = simulate_business(
            customers=customers, years=years, seed=seed, out_dir=out_dir, fmt=fmt,
            duplicates_rate=duplicates_rate, hard=hard, one_time_buyers=one_time_buyers,
            progress=lambda done, _total: bar.update(task, completed=done),
        )
    table = Table("file", "rows")
    for name, rows in summary.rows.items():
        table.add_row(str(summary.files[name].relative_to(summary.out_dir)), f"{rows:,}")
    console.print(table)
    console.print(f"written to [bold]{summary.out_dir}[/] in {summary.seconds:.1f} s")


def register(app: typer.Typer) -> None:
    app.command(name="simulate")(simulate)
