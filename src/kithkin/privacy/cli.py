"""``kithkin privacy``: export everything held about a customer, erase them, and read or
record their consents. Commands take a customer as people know it (id, external id,
e-mail, name): see :mod:`kithkin.customers.reference`."""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kithkin.config import get_settings
from kithkin.customers.cli import CustomerArg, resolve_or_exit
from kithkin.customers.models import Channel, ConsentStatus, Purpose
from kithkin.database.core import session_scope
from kithkin.errors import KithkinError
from kithkin.privacy import consent, erasure, export
from kithkin.privacy.models import ConsentSource

app = typer.Typer(help="Export, erase and record consent for a customer (GDPR).",
                  no_args_is_help=True)
console = Console()


@app.command("export")
def export_command(
    customer: CustomerArg,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write to this file (default: print the JSON).")] = None,
    html: Annotated[bool, typer.Option(
        "--html", help="The readable HTML version instead of JSON.")] = False,
) -> None:
    """Everything held about the customer (right of access), as one versioned JSON
    document (docs/privacy.md) or its HTML version."""
    with session_scope() as session:
        found = resolve_or_exit(session, customer)
        document = export.export(session=session, customer_id=found.id)
    text = export.to_html(document) if html else json.dumps(document, indent=2,
                                                            ensure_ascii=False)
    if output is None:
        typer.echo(text)
        return
    output.write_text(text, encoding="utf-8")
    sections = sum(1 for rows in document["sections"].values() if rows)
    console.print(f"wrote {escape(str(output))}: records {document['records']}, "
                  f"{sections} section(s) with data")


@app.command()
def erase(
    customer: CustomerArg,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    actor: Annotated[str | None, typer.Option(
        help="Who asked for it, for the erasure log (default: the OS user).")] = None,
) -> None:
    """Erase the customer for good: personal fields, identities, free text, merge
    before-images and uploaded-file rows. Orders stay under the pseudonymous id."""
    with session_scope() as session:
        found = resolve_or_exit(session, customer)
        ids = erasure.cluster(session=session, customer_id=found.id)
        if not yes and not typer.confirm(
                f"Erase customer record(s) {', '.join(map(str, ids))}? This cannot be undone"):
            raise typer.Exit(1)
        try:
            log = erasure.erase(session=session, settings=get_settings(), customer_id=found.id,
                                actor=actor or f"cli:{getpass.getuser()}")
        except KithkinError as exc:
            console.print(f"[red]error:[/] {escape(str(exc))}")
            raise typer.Exit(1) from exc
        console.print(f"erased record(s) {', '.join(map(str, log.customer_ids))}; "
                      f"orders stay under customer {log.customer_id} (erasure {log.id})")
        console.print(escape(json.dumps(log.removed)))


@app.command()
def consents(customer: CustomerArg) -> None:
    """The customer's current consent per channel and purpose, and the ledger behind it."""
    with session_scope() as session:
        found = resolve_or_exit(session, customer)
        state = Table(title=f"customer {found.id}: current consent")
        for column in ("channel", "purpose", "status", "since", "source"):
            state.add_column(column)
        for row in consent.current(session=session, customer_id=found.id):
            state.add_row(row.channel, row.purpose, row.status, f"{row.updated_at:%Y-%m-%d}",
                          escape(row.source or "-"))
        history = Table(title="history, newest first")
        for column in ("when", "channel", "purpose", "status", "source", "wording"):
            history.add_column(column, overflow="fold")
        for event in consent.history(session=session, customer_id=found.id):
            history.add_row(f"{event.occurred_at:%Y-%m-%d %H:%M}", event.channel,
                            event.purpose, event.status,
                            escape(event.source + (f" ({event.source_detail})"
                                                   if event.source_detail else "")),
                            escape(event.wording or "-"))
    console.print(state)
    console.print(history)


@app.command("record-consent")
def record_consent(
    customer: CustomerArg,
    channel: Annotated[Channel, typer.Option(help="email, sms, phone or post.")],
    status: Annotated[ConsentStatus, typer.Option(
        help="granted, denied or opted_out (a withdrawal).")],
    purpose: Annotated[Purpose, typer.Option()] = Purpose.MARKETING,
    source: Annotated[str, typer.Option(help="import, api, form or staff.")] = "staff",
    wording: Annotated[str | None, typer.Option(help="The text agreed to.")] = None,
    evidence: Annotated[str | None, typer.Option(help="How it is known.")] = None,
    at: Annotated[datetime | None, typer.Option(help="When it was said (default now).")] = None,
) -> None:
    """Append one grant, denial or withdrawal to the customer's consent ledger."""
    if source not in ConsentSource.ALL:
        console.print(f"[red]error:[/] --source must be one of {', '.join(ConsentSource.ALL)}")
        raise typer.Exit(2)
    with session_scope() as session:
        found = resolve_or_exit(session, customer)
        try:
            event = consent.record(session=session, change=consent.ConsentChange(
                customer_id=found.id, channel=channel.value, purpose=purpose.value,
                status=status.value, source=source, source_detail="cli",
                wording=wording, evidence=evidence, occurred_at=at))
        except KithkinError as exc:
            console.print(f"[red]error:[/] {escape(str(exc))}")
            raise typer.Exit(1) from exc
        console.print(f"recorded: customer {found.id} {event.channel}/{event.purpose} "
                      f"{event.status} (event {event.id})")
