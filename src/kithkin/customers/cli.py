"""``kithkin customers list`` (the dashboard's customer list: search, filters, sorts),
``show`` (profile and latest metrics) and ``assign`` (account managers). Commands take a
customer as people know it: see :mod:`kithkin.customers.reference`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from kithkin.analytics import service as metrics_service
from kithkin.analytics.schemas import CustomerMetricRead
from kithkin.cli import output
from kithkin.cli.output import FormatOption, OutputFormat
from kithkin.config import get_settings
from kithkin.customers import listing
from kithkin.customers import reference as reference_service
from kithkin.customers import service as customer_service
from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.database.core import session_scope
from kithkin.errors import KithkinError
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
            profile.add_row(name, escape(_text(getattr(found, name))))
        for identifier in identifiers:
            profile.add_row("external id",
                            escape(f"{identifier.source}:{identifier.external_id}"))
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


@app.command("list")
def list_customers(
    q: Annotated[str, typer.Option(
        "--search", "-q", help="Last-name prefix, email prefix (with @) or exact id, as "
                               "the dashboard's search box.")] = "",
    stage: Annotated[str | None, typer.Option(
        help="Current stage, MODEL:STAGE or STAGE of the first active model.")] = None,
    tier: Annotated[str | None, typer.Option(help="Value tier, e.g. most_valuable.")] = None,
    at_risk: Annotated[bool | None, typer.Option(
        "--at-risk/--not-at-risk", help="P(alive) below 0.5, or at or above it.",
        show_default=False)] = None,
    manager: Annotated[str | None, typer.Option(
        help="Email of the account manager.")] = None,
    sort: Annotated[str, typer.Option(help=listing.SORT_HELP)] = "id",
    output_format: FormatOption = OutputFormat.TABLE,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Customers per page.")] = 50,
    after: Annotated[str | None, typer.Option(help="Cursor printed by the last page.")] = None,
) -> None:
    """List customers with their stage, CLV, P(alive), value tier and account manager:
    the dashboard's customers page, one page at a time."""
    model, _, name = (stage or "").rpartition(":")
    try:
        with session_scope() as session:
            manager_id = (user_service.get_user_by_email(session=session, email=manager).id
                          if manager else None)
            model = model or listing.default_stage_model(home=get_settings().home) or ""
            found = listing.list_customers(
                session=session, sort=sort, limit=limit, after=after, stage_model=model or None,
                filters=listing.CustomerFilters(
                    q=q, stage=name or None, stage_model=model or None, tier=tier,
                    at_risk=at_risk, account_manager_id=manager_id))
    except KithkinError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    table = output_format is OutputFormat.TABLE
    rows = [[r.customer.id, r.label, r.stage, r.clv, r.p_alive, r.at_risk, r.value_tier,
             r.account_manager,
             r.last_order_at.date() if table and r.last_order_at else r.last_order_at]
            for r in [*found.exact, *found.rows]]
    as_of = f" (values as of {found.as_of})" if found.as_of else " (no refresh yet)"
    output.emit(["id", "customer", f"stage ({model or '-'})", "clv", "p_alive", "at risk",
                 "value tier", "account manager", "last order"], rows,
                title="customers" + as_of, output=output_format, limit=0, console=console)
    if found.next_cursor:
        Console(stderr=True).print(f"next page: --after {found.next_cursor}")


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
