"""``kithkin tags``: add, remove and list customer tags."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from kithkin.cli import output
from kithkin.cli.output import FormatOption, OutputFormat
from kithkin.customers import reference as reference_service
from kithkin.database.core import session_scope
from kithkin.errors import KithkinError
from kithkin.tags import service as tag_service

app = typer.Typer(help="Customer tags: add, remove, list.", no_args_is_help=True)
console = Console()
CustomerArg = Annotated[str, typer.Argument(
    help="The customer: internal id, ext:SOURCE:ID, an email or a name.")]
TagsArg = Annotated[list[str], typer.Argument(help="One or more tags.")]


@app.command()
def add(customer: CustomerArg, tags: TagsArg) -> None:
    """Tag a customer (tags are lower-cased; spaces become -)."""
    try:
        with session_scope() as session:
            found = reference_service.resolve(session=session, reference=customer)
            added = tag_service.add_tags(session=session, customer_id=found.id, tags=tags)
            now = tag_service.tags_of(session=session, customer_id=found.id)
    except KithkinError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    console.print(f"added {len(added)}; tags now: {escape(', '.join(now)) or 'none'}")


@app.command()
def remove(customer: CustomerArg, tags: TagsArg) -> None:
    """Take tags off a customer."""
    try:
        with session_scope() as session:
            found = reference_service.resolve(session=session, reference=customer)
            removed = tag_service.remove_tags(session=session, customer_id=found.id,
                                              tags=tags)
            now = tag_service.tags_of(session=session, customer_id=found.id)
    except KithkinError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    console.print(f"removed {removed}; tags now: {escape(', '.join(now)) or 'none'}")


@app.command("list")
def list_tags(customer: Annotated[str | None, typer.Argument(
        help="A customer (default: every tag in use with its count).")] = None,
        output_format: FormatOption = OutputFormat.TABLE) -> None:
    """A customer's tags, or every tag in use and how many customers have it."""
    try:
        with session_scope() as session:
            if customer:
                found = reference_service.resolve(session=session, reference=customer)
                rows: list[list[object]] = [[t] for t in tag_service.tags_of(
                    session=session, customer_id=found.id)]
                columns = ["tag"]
            else:
                rows = [[t, n] for t, n in tag_service.tag_counts(session=session)]
                columns = ["tag", "customers"]
    except KithkinError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    output.emit(columns, rows, title="tags", output=output_format, limit=0, console=console)
