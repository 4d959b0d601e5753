"""The `kithkin` command line. Each domain adds its commands in its own module."""

from __future__ import annotations

import typer
from rich.console import Console

from kithkin import __version__
from kithkin.auth.secret import secret_path, signing_secret
from kithkin.config import get_settings
from kithkin.database.core import get_engine
from kithkin.database.manage import upgrade
from kithkin.errors import ConfigurationError

app = typer.Typer(
    name="kithkin",
    help="Relationship-marketing CRM: value, stages, health, playbooks and retention.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
console = Console()


@app.command()
def version() -> None:
    """Print the kithkin version."""
    console.print(__version__)


@app.command()
def init() -> None:
    """Create the workspace (with its secret) and bring the store's schema up to date
    (safe to re-run: the secret is kept)."""
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    try:
        signing_secret(settings)
    except ConfigurationError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=1) from exc
    upgrade(get_engine())
    source = ("KITHKIN_SECRET_KEY" if settings.secret_key is not None
              else f"{secret_path(settings).resolve()} (owner-only)")
    console.print(f"workspace [bold]{settings.home.resolve()}[/] ready; store: "
                  f"{get_engine().url.render_as_string(hide_password=True)}; "
                  f"secret: {source}")


from kithkin.analytics.cli import register as register_refresh  # noqa: E402
from kithkin.api.cli import register as register_serve  # noqa: E402
from kithkin.cli.demo import register as register_demo  # noqa: E402
from kithkin.customers.cli import app as customers_app  # noqa: E402
from kithkin.identity.cli import register as register_identity  # noqa: E402
from kithkin.ingest.cli import register as register_import  # noqa: E402
from kithkin.relationships.cli import register as register_relationships  # noqa: E402
from kithkin.simulate.cli import register as register_simulate  # noqa: E402
from kithkin.users.cli import app as users_app  # noqa: E402

register_refresh(app)
register_serve(app)
register_demo(app)
app.add_typer(customers_app, name="customers")
register_identity(app)
register_import(app)
register_relationships(app)
register_simulate(app)
app.add_typer(users_app, name="users")


if __name__ == "__main__":
    app()
