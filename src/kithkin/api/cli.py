"""`kithkin serve`: run the API and dashboard with uvicorn."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from kithkin.api import serving
from kithkin.auth.secret import signing_secret, weakness
from kithkin.config import get_settings
from kithkin.errors import ConfigurationError

if TYPE_CHECKING:
    from fastapi import FastAPI

console = Console()


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(
        help="Worker processes (each has its own database pool; with SQLite, writes "
             "still go one at a time).")] = 1,
    https_only: Annotated[bool, typer.Option(
        help="Mark the session cookie Secure (behind TLS).")] = False,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    refresh_every: Annotated[float | None, typer.Option(
        min=0.01, help="Refresh metrics, stages and health every N hours while serving "
        "(default: settings.refresh_interval_hours; none: only `kithkin refresh`).")] = None,
) -> None:
    """Serve the REST API (/api/v1, docs at /docs) and the dashboard."""
    if refresh_every is not None:
        # The app factory reads settings in the server process: pass it by environment.
        os.environ["KITHKIN_REFRESH_INTERVAL_HOURS"] = str(refresh_every)
        get_settings.cache_clear()
    settings = get_settings()
    try:
        secret = signing_secret(settings)
    except ConfigurationError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=1) from exc
    if settings.dev_mode and weakness(secret):
        console.print("[yellow]warning:[/] KITHKIN_DEV_MODE is on and the secret "
                      f"{weakness(secret)}: anyone who knows it can sign in as anyone.")
    factory = "kithkin.api.cli:secure_app_factory" if https_only else "kithkin.api.app:create_app"
    serving.run(factory, host=host, port=port, workers=workers, reload=reload,
                log_level="info")


def secure_app_factory() -> FastAPI:
    """The app with a Secure session cookie (imported lazily: the CLI starts faster)."""
    from kithkin.api.app import create_app

    return create_app(https_only=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
