"""``kithkin customers show ID`` (profile and latest metrics) and ``kithkin customers
assign`` (account managers)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from kithkin.cli import output
from kithkin.customers import reference as reference_service
from kithkin.customers import service as customer_service
from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.database.core import session_scope
from kithkin.errors import KithkinError
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


CustomerArg = Annotated[str, typer.Argument(
    help="The customer: internal id, ext:SOURCE:ID or an external id, an email or a name "
         "(id:N, email:ADDRESS to be explicit).", show_default=False)]


def resolve_or_exit(session: Session, reference: str) -> Customer:
    """The customer ``reference`` names, or exit 1 printing why (none, or the candidates)."""
    try:
        return reference_service.resolve(session=session, reference=reference)
    except KithkinError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc


def title(customer: Customer, identifiers: list[CustomerIdentifier]) -> str:
    """"customer 2: Ada Lovelace", "customer 2: shop:C-2"; never "customer 2: customer 2"."""
    name = reference_service.label(customer, identifiers)
    own = f"customer {customer.id}"
    return own if name == own else f"{own}: {name}"


@app.command()
def show(customer: CustomerArg) -> None:
    """Print the customer's profile, external ids and their metrics at the latest refresh."""
    with session_scope() as session:
        found = resolve_or_exit(session, customer)
        identifiers = list(customer_service.identifiers_of(session=session,
                                                           customer_id=found.id))
        profile = Table(title=escape(title(found, identifiers)), show_header=False)
        profile.add_column(style="bold")
        profile.add_column(overflow="fold")
        for name in PROFILE_FIELDS:
            profile.add_row(name, _text(getattr(found, name)))
        for identifier in identifiers:
            profile.add_row("external id", f"{identifier.source}:{identifier.external_id}")
        if found.merged_into_id is not None:
            profile.add_row("merged into", str(found.merged_into_id))
        output.print_table(profile, console=console)
        stored = metrics_service.for_customer(session=session, customer_id=found.id)
        if stored is None:
            console.print("no metrics yet: run [bold]kithkin refresh[/]")
            return
        metrics = CustomerMetricRead.model_validate(stored)
    table = Table("metric", "value", title=f"metrics as of {metrics.as_of}")
    for name, value in metrics.model_dump(exclude={"as_of", "customer_id"}).items():
        table.add_row(name, _text(value))
    table.columns[1].no_wrap = True
    table.columns[1].justify = "right"
    output.print_table(table, console=console)


@app.command()
def assign(
    manager: Annotated[str, typer.Argument(help="Email of the staff user (an agent or a "
                                                "manager); 'nobody' unassigns.")],
    customers: Annotated[list[str] | None, typer.Argument(
        help="Customers: internal ids, ext:SOURCE:ID or external ids, emails or names.",
        show_default=False)] = None,
    stage: Annotated[str | None, typer.Option(
        help="Also every customer currently in MODEL:STAGE, e.g. journey:partner.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many from --stage.")] = None,
) -> None:
    """Make a staff member the account manager of customers (agents then see only theirs)."""
    with session_scope() as session:
        try:
            manager_id = None if manager == "nobody" else user_service.get_user_by_email(
                session=session, email=manager).id
            ids = [reference_service.resolve(session=session, reference=ref).id
                   for ref in customers or []]
            if stage:
                model, _, name = stage.partition(":")
                ids += customer_service.in_stage(session=session, model=model, stage=name,
                                                 limit=limit)
            if not ids:
                raise typer.BadParameter("give customers or --stage")
            changed = customer_service.assign_account_manager(
                session=session, customer_ids=ids, account_manager_id=manager_id)
        except KithkinError as exc:
            console.print(f"[red]error:[/] {escape(str(exc))}")
            raise typer.Exit(1) from exc
    console.print(f"{changed:,} of {len(set(ids)):,} customers now have account manager "
                  f"{manager}")
