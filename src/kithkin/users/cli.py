"""`kithkin users ...`: create staff users (the first admin), change their role, password
or active flag, sign them out, and manage API keys from the shell."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from kithkin.cli import output
from kithkin.cli.output import FormatOption, LimitOption, OutputFormat
from kithkin.config import get_settings
from kithkin.database.core import session_scope
from kithkin.errors import KithkinError
from kithkin.users import service as user_service
from kithkin.users import sessions as staff_sessions
from kithkin.users.models import Role

app = typer.Typer(help="Staff users and API keys.", no_args_is_help=True)
api_key_app = typer.Typer(help="API keys (the whole key is printed once).", no_args_is_help=True)
app.add_typer(api_key_app, name="api-key")
console = Console()


def _fail(exc: KithkinError) -> typer.Exit:
    console.print(f"[red]error:[/] {exc}")
    return typer.Exit(code=1)


@app.command("create")
def create(
    email: Annotated[str, typer.Option(help="Sign-in email (unique).")],
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[Role, typer.Option(help="admin, manager, agent or analyst.")],
    password: Annotated[str, typer.Option(
        prompt=True, hide_input=True, confirmation_prompt=True,
        help="At least 8 characters; prompted when omitted.",
    )],
) -> None:
    """Create a staff user (run once with --role admin to bootstrap)."""
    try:
        with session_scope() as session:
            user = user_service.create_user(session=session, email=email, name=name,
                                            password=password, role=role)
            console.print(f"user [bold]{user.id}[/] {user.email} ({user.role}) created")
    except KithkinError as exc:
        raise _fail(exc) from exc


@app.command("list")
def list_users(output_format: FormatOption = OutputFormat.TABLE,
               limit: LimitOption = None) -> None:
    """List staff users."""
    with session_scope() as session:
        rows = [[user.id, user.email, user.name, user.role, user.is_active,
                 user.last_login_at] for user in user_service.list_users(session=session)]
    output.emit(["id", "email", "name", "role", "active", "last login"], rows,
                title="Staff users", output=output_format, limit=limit, console=console)


Email = Annotated[str, typer.Argument(help="The user's sign-in email.")]


def _update(email: str, *, role: Role | None = None, is_active: bool | None = None) -> None:
    try:
        with session_scope() as session:
            found = user_service.get_user_by_email(session=session, email=email)
            user = user_service.update_user(session=session, user_id=found.id, role=role,
                                            is_active=is_active)
            state = "active" if user.is_active else "deactivated"
            console.print(f"user [bold]{user.id}[/] {user.email}: {user.role}, {state}")
    except KithkinError as exc:
        raise _fail(exc) from exc


@app.command("set-role")
def set_role(email: Email, role: Annotated[Role, typer.Argument(
        help="admin, manager, agent or analyst.")]) -> None:
    """Change a user's role (signs them out everywhere)."""
    _update(email, role=role)


@app.command("deactivate")
def deactivate(email: Email) -> None:
    """Stop a user: no sign-in, their sessions end and their API keys stop working."""
    _update(email, is_active=False)


@app.command("reactivate")
def reactivate(email: Email) -> None:
    """Let a deactivated user sign in again (their unrevoked API keys work again)."""
    _update(email, is_active=True)


@app.command("set-password")
def set_password(
    email: Email,
    password: Annotated[str, typer.Option(
        prompt="New password", hide_input=True, confirmation_prompt=True,
        help="At least 8 characters; prompted when omitted.",
    )],
) -> None:
    """Set a user's password (signs them out everywhere)."""
    try:
        with session_scope() as session:
            found = user_service.get_user_by_email(session=session, email=email)
            user_service.set_password(session=session, user_id=found.id, password=password)
            console.print(f"password of {found.email} changed; their sessions ended")
    except KithkinError as exc:
        raise _fail(exc) from exc


@app.command("sign-out")
def sign_out(email: Email) -> None:
    """End every browser session of a user (API keys are not touched)."""
    try:
        with session_scope() as session:
            user = user_service.get_user_by_email(session=session, email=email)
            ended = staff_sessions.end_user_sessions(session=session, user_id=user.id)
            console.print(f"{ended} session(s) of {user.email} ended")
    except KithkinError as exc:
        raise _fail(exc) from exc


@api_key_app.command("create")
def create_api_key(
    email: Annotated[str, typer.Option(help="Owner's email.")],
    name: Annotated[str, typer.Option(help="What the key is for.")],
    scope: Annotated[list[str] | None, typer.Option(
        help="area:access, repeatable (e.g. customers:read); default: everything the "
             "owner's role allows.",
    )] = None,
) -> None:
    """Create an API key and print it once."""
    try:
        with session_scope() as session:
            user = user_service.get_user_by_email(session=session, email=email)
            row, key = user_service.create_api_key(
                session=session, settings=get_settings(), user_id=user.id, name=name,
                scopes=scope or ["*"])
            console.print(f"API key {row.id} ({row.prefix}) for {user.email}, scopes "
                          f"{', '.join(row.scopes)}. Store it now; it is not shown again:")
            typer.echo(key)
    except KithkinError as exc:
        raise _fail(exc) from exc


@api_key_app.command("list")
def list_api_keys(output_format: FormatOption = OutputFormat.TABLE,
                  limit: LimitOption = None) -> None:
    """List API keys (prefixes only)."""
    with session_scope() as session:
        rows = [[row.id, row.user_id, row.name, row.prefix, " ".join(row.scopes),
                 row.revoked_at, row.last_used_at]
                for row in user_service.list_api_keys(session=session)]
    output.emit(["id", "user", "name", "prefix", "scopes", "revoked", "last used"], rows,
                title="API keys", output=output_format, limit=limit, console=console)


@api_key_app.command("revoke")
def revoke_api_key(api_key_id: int) -> None:
    """Revoke an API key for good."""
    try:
        with session_scope() as session:
            row = user_service.revoke_api_key(session=session, api_key_id=api_key_id)
            console.print(f"API key {row.id} ({row.prefix}) revoked at {row.revoked_at}")
    except KithkinError as exc:
        raise _fail(exc) from exc
