"""The `kithkin` command line. Each domain adds its commands in its own module."""

from __future__ import annotations

import typer
from rich.console import Console

from kithkin import __version__
from kithkin.config import get_settings
from kithkin.database.core import get_engine
from kithkin.database.manage import upgrade

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
    """Create the workspace and bring the store's schema up to date (safe to re-run)."""
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(get_engine())
    console.print(f"workspace [bold]{settings.home.resolve()}[/] ready; store: "
                  f"{get_engine().url.render_as_string(hide_password=True)}")


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
