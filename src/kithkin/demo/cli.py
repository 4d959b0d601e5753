"""`kithkin demo`: the main job, run by `make demo`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.status import Status
from rich.table import Table
from sqlalchemy import func, select

from kithkin.cli import output
from kithkin.config import get_settings
from kithkin.customers import service as customer_service
from kithkin.customers.cli import title
from kithkin.database.base import Base
from kithkin.database.core import session_scope
from kithkin.demo import service as demo_service
from kithkin.imports.schemas import ImportReport
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
    engine = demo_service.prepare_store(settings=settings)
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
    # Full figures at any width: a narrow terminal gets a list (kithkin.cli.output).
    output.print_table(import_table(reports), console=console)

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

            result = demo_service.refresh_step(settings=settings, as_of=as_of, engine=engine,
                                               on_step=on_step)
        console.print(f"as of {as_of}: metrics of {result.customers:,} customers in "
                      f"{result.seconds:.1f} s"
                      + (f" [yellow](models: {result.model_error})[/]"
                         if result.model_error else ""))

    console.rule("[bold]4. what kithkin knows")
    _print_store_counts()
    _print_stages()
    _print_examples()
    passwords = demo_service.ensure_demo_users(engine=engine)
    console.rule("[bold]5. playbooks: what each level's follow-up created, and did it work")
    partners = demo_service.serve_book_as_partners(engine=engine, settings=settings, as_of=end)
    console.print(f"the agent's book ({partners} customers) is served at the partnership "
                  "level (a per-customer override); the others at their segment's level")
    _print_playbooks(end)
    console.rule("[bold]6. dashboard")
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


def import_table(reports: Sequence[ImportReport]) -> Table:
    """One row per imported file. A second source's record of a known customer is
    "matched" (joined by email or phone); rows/s is unknown ("-") when nothing was timed."""
    columns = ["kind", "read", "new", "matched", "updated", "unchanged", "rejected", "rows/s"]
    rows = [[report.kind, report.rows_read, report.inserted, sum(report.matched.values()),
             report.updated, report.unchanged, report.rows_rejected,
             round(report.rows_read / report.elapsed_seconds) if report.elapsed_seconds
             else None]
            for report in reports]
    return output.build_table(columns, rows, numeric=[False, *[True] * 7])


def _bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console)


def _print_store_counts() -> None:
    with session_scope() as session:
        rows = [[name, session.scalar(select(func.count())
                                      .select_from(Base.metadata.tables[name]))]
                for name in SHOWN_TABLES if name in Base.metadata.tables]
    output.print_table(output.build_table(["table", "rows"], rows, title="stored"),
                       console=console)


def _print_stages() -> None:
    with session_scope() as session:
        for model in active_models(home=get_settings().home):
            frame = relationship_reports.distribution(session=session, model=model)
            if frame.empty:
                continue
            columns, rows = output.frame_rows(frame, index=True)
            output.print_table(output.build_table(["as of", *columns[1:]], rows,
                                                  title=f"stage model: {model.name}"),
                               console=console)


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
            customer = customer_service.get(session=session, customer_id=customer_id)
            print_explanation(relationship_service.explain(
                session=session, settings=get_settings(), customer_id=customer_id),
                heading=title(customer, list(customer.identifiers)))


def _print_playbooks(as_of: date) -> None:
    """Per level: the tasks and messages the playbooks created; per rule: what the
    holdout comparison says (the simulator's customers do not react to contact, so "no
    difference shown" is the honest answer here)."""
    from kithkin.playbooks import views as playbook_views

    with session_scope() as session:
        rows = playbook_views.what_happened(session=session, home=get_settings().home,
                                            as_of=as_of)
    if not rows:
        console.print("no playbook fired (no customer is served by a level with rules)")
        return
    levels: dict[str, list[int]] = {}
    for row in rows:
        totals = levels.setdefault(row["level"], [0, 0, 0, 0])
        for n, key in enumerate(("firings", "holdout", "tasks", "messages")):
            totals[n] += int(row[key])
    output.print_table(output.build_table(
        ["level", "trigger occurrences", "held out", "tasks", "messages"],
        [[level, *values] for level, values in sorted(levels.items())],
        title="created by the playbooks, per level", numeric=[False, True, True, True, True]),
        console=console)
    output.print_table(output.build_table(
        ["playbook", "rule", "bought again within 90 days: contacted vs holdout"],
        [[r["playbook"], r["rule"],
          playbook_views.comparison_text(r["comparison"]["bought_90d"])] for r in rows],
        title="what happened next (kithkin playbooks report)"), console=console)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
