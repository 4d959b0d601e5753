"""``kithkin at-risk list`` (ranked by value at risk, filterable, CSV with --format csv or
--out) and ``kithkin at-risk show CUSTOMER`` (stage, evidence, P(alive) and its model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kithkin.atrisk import service
from kithkin.atrisk.rules import STAGE_LABELS
from kithkin.cli import output
from kithkin.cli.output import FormatOption, OutputFormat
from kithkin.customers.cli import CustomerArg, resolve_or_exit
from kithkin.database.core import session_scope
from kithkin.errors import KithkinError
from kithkin.users import service as user_service

app = typer.Typer(help="Who is leaving: the at-risk list and each customer's defection "
                       "status.", no_args_is_help=True)
console = Console()


@app.command("list")
def list_at_risk(
    stage: Annotated[str | None, typer.Option(
        help="active, at_risk, defected or won_back (default: at_risk and defected).")] = None,
    segment: Annotated[str | None, typer.Option(help="RFM segment, e.g. champions.")] = None,
    level: Annotated[str | None, typer.Option(
        help="Relationship level of the customer's RFM segment.")] = None,
    manager: Annotated[str | None, typer.Option(
        help="Email of the account manager.")] = None,
    limit: Annotated[int, typer.Option(min=0, help="Rows (0: all).")] = 50,
    output_format: FormatOption = OutputFormat.TABLE,
    out: Annotated[Path | None, typer.Option(
        help="Write the whole filtered list to this CSV file.")] = None,
) -> None:
    """Customers ranked by value at risk (CLV x at-risk score) at the latest refresh."""
    try:
        with session_scope() as session:
            manager_id = (user_service.get_user_by_email(session=session, email=manager).id
                          if manager else None)
            if out is not None:
                with out.open("w", newline="") as handle:
                    for chunk in service.at_risk_csv(
                            session=session, stage=stage, segment=segment, level=level,
                            account_manager_id=manager_id):
                        handle.write(chunk)
                console.print(f"written to [bold]{escape(str(out))}[/]")
                return
            page = service.at_risk_list(session=session, stage=stage, segment=segment,
                                        level=level, account_manager_id=manager_id,
                                        limit=limit or 10_000_000)
    except KithkinError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    if page.as_of is None:
        console.print("no refresh yet: run [bold]kithkin refresh[/]")
        return
    rows = [[getattr(r, c) for c in service.CSV_COLUMNS] for r in page.rows]
    output.emit(list(service.CSV_COLUMNS), rows, output=output_format, limit=0,
                title=f"at risk as of {page.as_of}: {page.total:,} customers, "
                      "ranked by value at risk", console=console)
    if output_format is OutputFormat.TABLE and page.total > len(rows):
        console.print(f"{len(rows):,} of {page.total:,} shown: --limit 0 for all, "
                      "--out FILE.csv to export")


@app.command()
def show(customer: CustomerArg) -> None:
    """The customer's defection stage since when, the at-risk score, P(alive) with the
    model that gave it, and every stage change with its rule and evidence."""
    with session_scope() as session:
        found = resolve_or_exit(session, customer)
        status = service.status(session=session, customer_id=found.id)
    if status.as_of is None:
        console.print("no refresh yet: run [bold]kithkin refresh[/]")
        return
    head = Table(title=f"customer {found.id}: defection status as of {status.as_of}",
                 show_header=False)
    head.add_column(style="bold")
    head.add_column()
    stage = STAGE_LABELS.get(status.stage or "", "unknown (no purchase)")
    head.add_row("stage", f"{stage}" + (f" since {status.since}" if status.since else ""))
    head.add_row("at-risk score", "unknown" if status.at_risk is None
                 else f"{status.at_risk:.0%} chance of no purchase in the next period")
    head.add_row("value at risk", "unknown" if status.value_at_risk is None
                 else f"{status.value_at_risk:,.2f}")
    alive = status.p_alive
    head.add_row("P(alive)", (f"{alive.value:.1%}" if alive.value is not None else
                              escape(alive.note or "unknown"))
                 + (f" ({alive.model})" if alive.model else ""))
    output.print_table(head, console=console)
    table = Table("changed on", "from", "to", "rule", "evidence", title="history")
    for change in status.changes:
        table.add_row(str(change.changed_on), STAGE_LABELS.get(change.from_stage or "", "-"),
                      STAGE_LABELS[change.to_stage], change.rule.replace("_", " "),
                      escape(json.dumps(change.evidence)))
    output.print_table(table, console=console)

