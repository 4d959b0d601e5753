"""``kithkin customers show ID`` (profile and latest metrics) and ``kithkin customers
assign`` (account managers)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from kithkin.customers import service as customer_service
from kithkin.database.core import session_scope
from kithkin.errors import KithkinError, NotFoundError
from kithkin.metrics import service as metrics_service
from kithkin.metrics.schemas import CustomerMetricRead
from kithkin.users import service as user_service

app = typer.Typer(help="Look up customers and assign their account managers.",
                  no_args_is_help=True)
console = Console()

PROFILE_FIELDS = ("first_name", "last_name", "company", "email", "phone", "city", "country",
                  "acquisition_source", "acquired_at")


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


@app.command()
def show(customer_id: Annotated[int, typer.Argument(help="Customer id.")]) -> None:
    """Print the customer's profile and their metrics at the latest refresh."""
    with session_scope() as session:
        try:
            customer = customer_service.get(session=session, customer_id=customer_id)
        except NotFoundError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from exc
        profile = Table(title=f"customer {customer.id}: {customer.display_name}",
                        show_header=False)
        for name in PROFILE_FIELDS:
            profile.add_row(name, _text(getattr(customer, name)))
        if customer.merged_into_id is not None:
            profile.add_row("merged into", str(customer.merged_into_id))
        console.print(profile)
        stored = metrics_service.for_customer(session=session, customer_id=customer_id)
        if stored is None:
            console.print("no metrics yet: run [bold]kithkin refresh[/]")
            return
        metrics = CustomerMetricRead.model_validate(stored)
    table = Table("metric", "value", title=f"metrics as of {metrics.as_of}")
    for name, value in metrics.model_dump(exclude={"as_of", "customer_id"}).items():
        table.add_row(name, _text(value))
    console.print(table)


@app.command()
def assign(
    manager: Annotated[str, typer.Argument(help="Email of the staff user (an agent or a "
                                                "manager); 'nobody' unassigns.")],
    customer_ids: Annotated[list[int] | None, typer.Argument(help="Customer ids.")] = None,
    stage: Annotated[str | None, typer.Option(
        help="Also every customer currently in MODEL:STAGE, e.g. journey:partner.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many from --stage.")] = None,
) -> None:
    """Make a staff member the account manager of customers (agents then see only theirs)."""
    with session_scope() as session:
        try:
            manager_id = None if manager == "nobody" else user_service.get_user_by_email(
                session=session, email=manager).id
            ids = list(customer_ids or [])
            if stage:
                model, _, name = stage.partition(":")
                ids += customer_service.in_stage(session=session, model=model, stage=name,
                                                 limit=limit)
            if not ids:
                raise typer.BadParameter("give customer ids or --stage")
            changed = customer_service.assign_account_manager(
                session=session, customer_ids=ids, account_manager_id=manager_id)
        except KithkinError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from exc
    console.print(f"{changed:,} of {len(set(ids)):,} customers now have account manager "
                  f"{manager}")
