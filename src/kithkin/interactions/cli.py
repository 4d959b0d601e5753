"""``kithkin customers log CUSTOMER``: log a call, meeting, complaint... as a staff user,
exactly as the dashboard's customer page and ``POST /api/v1/interactions`` do."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from kithkin.customers import reference as reference_service
from kithkin.customers.cli import CustomerArg
from kithkin.customers.scope import CustomerScope
from kithkin.database.base import utcnow
from kithkin.database.core import session_scope
from kithkin.errors import KithkinError, ValidationError
from kithkin.interactions import service as interaction_service
from kithkin.interactions.models import Direction, InteractionChannel, InteractionKind, ScoreScale
from kithkin.interactions.schemas import InteractionCreate
from kithkin.tasks.cli import AsOption, parse_when
from kithkin.users import service as user_service

console = Console()


def log(
    customer: CustomerArg,
    kind: Annotated[InteractionKind, typer.Option(case_sensitive=False, help="What it was.",
                                                  show_default=False)],
    acting: AsOption = None,
    direction: Annotated[Direction, typer.Option(case_sensitive=False)] = Direction.OUTBOUND,
    channel: Annotated[InteractionChannel | None, typer.Option(
        case_sensitive=False, show_default=False)] = None,
    subject: Annotated[str | None, typer.Option(show_default=False)] = None,
    text: Annotated[str | None, typer.Option(help="What was said.", show_default=False)] = None,
    score: Annotated[float | None, typer.Option(help="A survey score (with --scale).",
                                                show_default=False)] = None,
    scale: Annotated[ScoreScale | None, typer.Option(
        case_sensitive=False, help="nps (0-10) or csat (1-5).", show_default=False)] = None,
    tag: Annotated[list[str] | None, typer.Option(
        "--tag", help="A tag (repeat for several).", show_default=False)] = None,
    at: Annotated[str | None, typer.Option(help="When (default: now): a date-time or "
                                           "YYYY-MM-DD.", show_default=False)] = None,
) -> None:
    """Log an interaction with a customer (it is in their timeline at once and counts in
    the next refresh)."""
    try:
        with session_scope() as session:
            if not acting:
                raise ValidationError("--as: say who logs it (or set KITHKIN_STAFF_EMAIL)")
            user = user_service.get_user_by_email(session=session, email=acting)
            found = reference_service.resolve(session=session, reference=customer,
                                              scope=CustomerScope.for_user(user))
            tags = [t.strip() for t in tag or [] if t.strip()] or None
            data = InteractionCreate(
                customer_id=found.id, kind=kind, direction=direction, channel=channel,
                subject=subject, text=text, score=score, score_scale=scale, tags=tags,
                occurred_at=parse_when(at, field="--at") if at else utcnow())
            logged = interaction_service.log(session=session, data=data,
                                             staff_user_id=user.id)
            console.print(f"interaction {logged.id} logged: {kind.value} with customer "
                          f"{found.id}")
    except KithkinError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc


def register(app: typer.Typer) -> None:
    """``log`` under the ``customers`` group (or top level without one)."""
    customers = next((group.typer_instance for group in app.registered_groups
                      if group.name == "customers" and group.typer_instance), None)
    (customers or app).command("log")(log)
