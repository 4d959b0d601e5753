"""``kithkin customers preferences CUSTOMER``: show the customer's preferences, or replace
one or more of their lists (what is not given is kept)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kithkin.cli import output
from kithkin.customers.cli import CustomerArg, resolve_or_exit
from kithkin.database.core import session_scope
from kithkin.errors import KithkinError
from kithkin.preferences import service as preference_service
from kithkin.preferences.schemas import LISTS, PreferencesRead, PreferencesUpdate

console = Console()


def preferences(
    customer: CustomerArg,
    category: Annotated[list[str] | None, typer.Option(
        "--category", help="A category they like (repeat; replaces the list).",
        show_default=False)] = None,
    brand: Annotated[list[str] | None, typer.Option(
        "--brand", help="A brand (repeat; replaces the list).", show_default=False)] = None,
    size: Annotated[list[str] | None, typer.Option(
        "--size", help="A size, e.g. 'shoes 42' (repeat; replaces the list).",
        show_default=False)] = None,
    channel: Annotated[list[str] | None, typer.Option(
        "--channel", help="email, sms, phone or post, favourite first (repeat; replaces "
                          "the list).", show_default=False)] = None,
    notes: Annotated[str | None, typer.Option(help="Free notes (replaces them; '' clears).",
                                              show_default=False)] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Forget every preference "
                                        "first.")] = False,
) -> None:
    """Show a customer's preferences; with options, change them (the lists given replace
    theirs, the rest is kept)."""
    given = {"categories": category, "brands": brand, "sizes": size, "channels": channel}
    changing = clear or notes is not None or any(v is not None for v in given.values())
    try:
        with session_scope() as session:
            found = resolve_or_exit(session, customer)
            current = preference_service.get(session=session, customer_id=found.id)
            if changing:
                base = {} if clear else current.model_dump(include={*LISTS, "notes"})
                if current.source == "imported" and not clear:
                    base["notes"] = base.get("notes") or "; ".join(current.imported)
                values = {**base, **{k: v for k, v in given.items() if v is not None}}
                if notes is not None:
                    values["notes"] = notes
                current = preference_service.save(
                    session=session, customer_id=found.id, staff_user_id=None,
                    data=PreferencesUpdate.model_validate(values))
    except KithkinError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    _print(current, title=f"preferences of customer {found.id}")


def _print(read: PreferencesRead, *, title: str) -> None:
    if read.source == "none":
        console.print(f"{title}: none known")
        return
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    if read.source == "imported":
        table.add_row("imported", escape(", ".join(read.imported)))
    for name in LISTS:
        table.add_row(name, escape(", ".join(getattr(read, name)) or "-"))
    table.add_row("notes", escape(read.notes or "-"))
    if read.updated_at:
        table.add_row("updated", read.updated_at.strftime("%Y-%m-%d %H:%M"))
    output.print_table(table, console=console)


def register(app: typer.Typer) -> None:
    """``preferences`` under the ``customers`` group (or top level without one)."""
    customers = next((group.typer_instance for group in app.registered_groups
                      if group.name == "customers" and group.typer_instance), None)
    (customers or app).command("preferences")(preferences)
