"""`kithkin deliver` (send due messages) and `kithkin messages list|show|retry`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from kithkin.cli import output
from kithkin.cli.output import FormatOption, LimitOption, OutputFormat
from kithkin.config import get_settings
from kithkin.database.core import get_engine, session_scope
from kithkin.errors import KithkinError
from kithkin.outbox import delivery
from kithkin.outbox import service as outbox_service
from kithkin.outbox.models import MessageStatus

app = typer.Typer(help="Outbox messages: list, show and retry.", no_args_is_help=True)
console = Console()


def deliver(
    once: Annotated[bool, typer.Option(
        "--once", help="One batch only (default: batches until nothing is due).")] = False,
    limit: Annotated[int | None, typer.Option(
        min=1, help="Send at most this many messages.")] = None,
) -> None:
    """Send due outbox messages by SMTP and signed webhooks, then exit."""
    settings = get_settings()
    report = delivery.deliver(settings=settings, engine=get_engine(), limit=limit, once=once)
    if report.quiet_until is not None:
        console.print(f"quiet hours: nothing sent before {report.quiet_until:%Y-%m-%d %H:%M %Z}")
        return
    for name, reason in report.unavailable.items():
        console.print(f"[yellow]{name} off:[/] {escape(reason)}")
    for error in report.errors[:20]:
        console.print(f"[yellow]{escape(error)}[/]")
    withdrawn = f", {report.skipped} skipped (consent withdrawn)" if report.skipped else ""
    console.print(f"{report.claimed} claimed: {report.sent} sent, {report.retrying} to "
                  f"retry, {report.dead} dead{withdrawn}")


@app.command("list")
def list_messages(
    status: Annotated[MessageStatus | None, typer.Option(help="Only this status.")] = None,
    customer: Annotated[int | None, typer.Option(help="Only this customer id.")] = None,
    reason: Annotated[str | None, typer.Option(help="Only this reason.")] = None,
    output_format: FormatOption = OutputFormat.TABLE, limit: LimitOption = None,
) -> None:
    """List messages, newest first, with their status and why (skip reason or error)."""
    page = limit or 1000
    with session_scope() as session:
        rows, _ = outbox_service.list_page(
            session=session, limit=page, customer_id=customer, reason=reason,
            status=status.value if status else None)
        table = [[m.id, m.customer_id, m.channel, m.template, m.status, m.attempts,
                  m.skip_reason or m.last_error, m.reason, m.created_at, m.sent_at]
                 for m in rows]
    output.emit(["id", "customer id", "channel", "template", "status", "attempts", "why",
                 "reason", "created", "sent"], table, title="Messages",
                output=output_format, limit=limit, console=console)


@app.command("show")
def show(message_id: Annotated[int, typer.Argument(help="Message id.")]) -> None:
    """Print one message as rendered (subject and text) with its delivery state."""
    try:
        with session_scope() as session:
            m = outbox_service.get(session=session, message_id=message_id)
            console.print(f"message {m.id} to customer {m.customer_id} ({m.channel}, "
                          f"{m.purpose}): {m.status}, {m.attempts} attempts")
            for label, value in (("why", m.skip_reason or m.last_error),
                                 ("recipient", m.recipient), ("subject", m.subject),
                                 ("idempotency key", m.idempotency_key)):
                if value:
                    console.print(f"{label}: {escape(value)}")
            if m.body:
                console.print(escape(m.body))
    except KithkinError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc


@app.command("retry")
def retry(message_id: Annotated[int, typer.Argument(help="A dead or failed message.")]
          ) -> None:
    """Queue a dead or failed message again (same idempotency key)."""
    try:
        with session_scope() as session:
            m = outbox_service.retry(session=session, message_id=message_id,
                                     settings=get_settings())
            if m.status == MessageStatus.QUEUED:
                console.print(f"message {m.id} is queued again (same idempotency key)")
            else:
                console.print(f"message {m.id} is {m.status} again: {escape(m.last_error or '')}")
    except KithkinError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc


def register(cli: typer.Typer) -> None:
    cli.command("deliver")(deliver)
