"""``kithkin loyalty``: grant points, show a member's statement, redeem, adjust."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from kithkin.analytics import engine as analytics_engine
from kithkin.config import get_settings
from kithkin.customers.cli import CustomerArg, resolve_or_exit
from kithkin.customers.models import Customer
from kithkin.database.core import get_engine, session_scope
from kithkin.errors import KithkinError
from kithkin.loyalty import ledger
from kithkin.loyalty import programme as loyalty_programme
from kithkin.loyalty import service as loyalty_service
from kithkin.loyalty.programme import Programme

app = typer.Typer(help="Loyalty points: grant, statements, redemptions, adjustments.",
                  no_args_is_help=True)
console = Console()


def _fail(exc: KithkinError) -> typer.Exit:
    console.print(f"[red]error:[/] {escape(str(exc))}")
    return typer.Exit(1)


@app.command()
def grant(as_of: Annotated[str | None, typer.Option(
        help="Grant for orders up to this date (YYYY-MM-DD); default today.")] = None) -> None:
    """Bring the ledger up to date: points for new orders, bonuses, refunds, expiry.
    Safe to re-run: each order, refund and expiry is applied once."""
    settings = get_settings()
    day = date.fromisoformat(as_of) if as_of else datetime.now(UTC).date()
    try:
        programme = loyalty_programme.load(settings.home)
        engine = get_engine(settings.resolved_database_url)
        source = analytics_engine.connect(settings, store=engine)
        with session_scope(engine) as session:
            result = ledger.grant(session, programme, as_of=day, source=source)
    except KithkinError as exc:
        raise _fail(exc) from exc
    console.print(f"as of {day}: {result.earned:,} orders earned, {result.bonuses:,} "
                  f"bonuses, {result.reversed:,} refunds reversed, {result.expired:,} "
                  "customers' points expired")


@contextmanager
def _member(customer: str) -> Iterator[tuple[Session, Programme, Customer]]:
    """The programme, a session and the customer a command names; a KithkinError inside
    ends the command with its message (exit 1)."""
    settings = get_settings()
    try:
        programme = loyalty_programme.load(settings.home)
        with session_scope(get_engine(settings.resolved_database_url)) as session:
            yield session, programme, resolve_or_exit(session, customer)
    except KithkinError as exc:
        raise _fail(exc) from exc


@app.command()
def statement(customer: CustomerArg, limit: int = 20) -> None:
    """A member's balance, tier and latest ledger entries."""
    with _member(customer) as (session, programme, found):
        result = loyalty_service.statement(session=session, programme=programme,
                                           customer_id=found.id, limit=limit)
        console.print(f"[bold]{escape(found.display_name)}[/]: {result.balance:,} "
                      f"points, tier {result.tier.name} (net spend "
                      f"{result.window_spend:,.2f} over {programme.tiers.window_days} days)")
        if result.next_tier is not None:
            console.print(f"next tier {result.next_tier.name} at "
                          f"{result.next_tier.threshold:,.2f}")
        table = Table("when", "kind", "points", "source", "reason")
        for entry in result.entries:
            table.add_row(f"{entry.occurred_at:%Y-%m-%d}", entry.kind, f"{entry.points:+,}",
                          entry.source_key, escape(entry.reason or ""))
        console.print(table)


@app.command()
def redeem(customer: CustomerArg, points: int,
           reason: Annotated[str | None, typer.Option()] = None,
           key: Annotated[str | None, typer.Option(
               help="Idempotency key: the same key redeems once.")] = None) -> None:
    """Spend a member's points (never more than the balance)."""
    with _member(customer) as (session, programme, found):
        loyalty_service.redeem(session=session, programme=programme, customer_id=found.id,
                               points=points, reason=reason, request_key=key)
        left = loyalty_service.balance(session=session, customer_id=found.id)
    console.print(f"redeemed {points:,} points; {left:,} left")


@app.command()
def adjust(customer: CustomerArg, points: int,
           reason: Annotated[str, typer.Option(help="Why (kept in the ledger).")]) -> None:
    """Correct a balance by hand (signed points), with a reason."""
    with _member(customer) as (session, programme, found):
        loyalty_service.adjust(session=session, programme=programme, customer_id=found.id,
                               points=points, reason=reason, user_id=None)
        left = loyalty_service.balance(session=session, customer_id=found.id)
    console.print(f"adjusted by {points:+,} points; balance {left:,}")
