"""`kithkin demo`: the main job, run by `make demo`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.status import Status
from rich.table import Table
from sqlalchemy import func, select

from kithkin import demo as demo_service
from kithkin.config import get_settings
from kithkin.database.base import Base
from kithkin.database.core import session_scope
from kithkin.relationships import reports as relationship_reports
from kithkin.relationships import service as relationship_service
from kithkin.relationships.cli import print_explanation
from kithkin.relationships.workspace import active_models

console = Console()
SHOWN_TABLES = (
    "customer", "customer_identifier", "prospect", "product", "transaction", "transaction_line",
    "interaction", "membership", "customer_metric", "customer_stage", "stage_change",
)


def demo(
    customers: Annotated[int, typer.Option(min=100, help="Customers to simulate.")] = 20_000,
    years: Annotated[float, typer.Option(min=0.5, help="Years of history.")] = 3.0,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same business).")] = 7,
    serve: Annotated[bool, typer.Option(help="Start the dashboard when done.")] = False,
    port: Annotated[int, typer.Option(help="Port for --serve.")] = 8000,
) -> None:
    """Simulate a business, import it, compute value, stages and health, and show the result."""
    settings = get_settings()
    engine = demo_service.prepare_store()
    data_dir = settings.home / "demo-data" / f"c{customers}-y{years:g}-s{seed}"
    console.rule("[bold]1. simulate")
    with _bar() as progress:
        task = progress.add_task("simulating customers", total=customers)
        simulation = demo_service.simulate_step(
            customers=customers, years=years, seed=seed, data_dir=data_dir,
            progress=lambda done, _total: progress.update(task, completed=done))
    console.print(f"wrote {len(simulation.files)} files to {data_dir} "
                  f"in {simulation.seconds:.1f} s (ground truth in truth/, not imported)")

    console.rule("[bold]2. import")
    with console.status("importing") as status:
        reports = demo_service.import_step(
            simulation=simulation, engine=engine,
            on_file=lambda kind, path: status.update(f"importing {kind} from {path.name}"))
    # A second source's record of a known customer is "matched" (joined by email or phone).
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 0, 0, 2))
    table.add_column("kind", no_wrap=True)
    for name in ("read", "new", "matched", "updated", "unchanged", "rejected", "rows/s"):
        table.add_column(name, justify="right", no_wrap=True)
    for report in reports:
        rate = report.rows_read / report.elapsed_seconds if report.elapsed_seconds else 0
        table.add_row(report.kind, f"{report.rows_read:,}", f"{report.inserted:,}",
                      f"{sum(report.matched.values()):,}", f"{report.updated:,}",
                      f"{report.unchanged:,}", f"{report.rows_rejected:,}", f"{rate:,.0f}")
    console.print(table)

    console.rule("[bold]3. refresh: value, stages, health")
    end = simulation.params.end - timedelta(days=1)
    latest = demo_service.latest_refresh(engine=engine)
    for as_of in (end - timedelta(days=91), end):
        if latest is not None and as_of < latest:  # a re-run: history moves forward only
            console.print(f"as of {as_of}: kept from the first run (refreshed up to {latest})")
            continue
        with console.status(f"refresh as of {as_of}") as status:
            def on_step(name: str, status: Status = status, day: date = as_of) -> None:
                status.update(f"refresh as of {day}: {name}")

            result = demo_service.refresh_step(as_of=as_of, engine=engine, on_step=on_step)
        console.print(f"as of {as_of}: metrics of {result.customers:,} customers in "
                      f"{sum(result.timings.values()):.1f} s"
                      + (f" [yellow](models: {result.model_error})[/]"
                         if result.model_error else ""))

    console.rule("[bold]4. what kithkin knows")
    _print_store_counts()
    _print_stages()
    _print_examples()
    passwords = demo_service.ensure_demo_users(engine=engine)
    console.rule("[bold]5. dashboard")
    console.print(f"run [bold]kithkin serve[/] (from this folder) and open "
                  f"http://127.0.0.1:{port}/  and sign in as")
    for email, password in passwords.items():
        role = ("admin: everything" if email == demo_service.DEMO_ADMIN_EMAIL else
                f"agent: sees only the {demo_service.DEMO_AGENT_BOOK} partners they look after")
        shown = (f"password (shown once) [bold]{password}[/]" if password else
                 "password printed by the first demo run")
        console.print(f"  {email}  {shown}  ({role})")
    if serve:
        import uvicorn

        uvicorn.run("kithkin.api.app:create_app", factory=True, host="127.0.0.1", port=port)


def _bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console)


def _print_store_counts() -> None:
    table = Table("table", "rows", title="stored")
    with session_scope() as session:
        for name in SHOWN_TABLES:
            if name in Base.metadata.tables:
                rows = session.scalar(select(func.count()).select_from(Base.metadata.tables[name]))
                table.add_row(name, f"{rows:,}")
    console.print(table)


def _print_stages() -> None:
    with session_scope() as session:
        for model in (m.name for m in active_models()):
            frame = relationship_reports.distribution(session=session, model=model)
            if frame.empty:
                continue
            table = Table("as of", *map(str, frame.columns), title=f"stage model: {model}")
            for as_of, row in frame.iterrows():
                table.add_row(str(as_of), *(f"{int(v):,}" for v in row))
            console.print(table)


def _print_examples(limit: int = 3) -> None:
    with session_scope() as session:
        down = relationship_reports.moved_down(session=session, model="journey")
        ids = list(dict.fromkeys(down["customer_id"].tolist()))[:1] if not down.empty else []
        top = relationship_service.current_stages(session=session, model="journey")
        for stage in ("partner", "friend", "acquaintance"):
            pick = top[(top["stage"] == stage) & ~top["customer_id"].isin(ids)]
            if not pick.empty and len(ids) < limit:
                ids.append(int(pick["customer_id"].iloc[0]))
        for customer_id in ids:
            console.print()
            print_explanation(relationship_service.explain(session=session,
                                                           customer_id=customer_id))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
