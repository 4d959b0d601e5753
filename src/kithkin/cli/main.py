"""The `kithkin` command line. Each domain adds its commands in its own module.

Domain command modules import the analytics stack (ibis, pandas, scipy, splink), which
takes seconds; `kithkin --help` and `kithkin version` must answer at once. So the
top-level group lists every command from the table below (name and one-line help) and
imports a command's module only when that command is run or asked for its own help.
``tests/cli/test_startup.py`` checks the table against the real commands and counts the
modules `--help` imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import typer
from typer import _click as click  # typer >= 0.29 vendors click; pinned in pyproject
from typer.core import TyperCommand, TyperGroup

from kithkin import __version__
from kithkin.cli.workspace import STORE_FREE, with_workspace


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives: ``register`` adds it (and maybe siblings) to an app."""

    help: str
    register: tuple[str, ...]  # "module:function(app)" or "module:typer_app"


LAZY_COMMANDS: dict[str, LazyCommand] = {
    "refresh": LazyCommand(
        "Snapshot the store, compute summaries, features and CLV, store them per customer.",
        ("kithkin.analytics.cli:register",)),
    "serve": LazyCommand(
        "Serve the REST API (/api/v1, docs at /docs) and the dashboard.",
        ("kithkin.api.cli:register",)),
    "demo": LazyCommand(
        "Simulate a business, import it, compute value, stages and health, and show the "
        "result.", ("kithkin.cli.demo:register",)),
    "identify": LazyCommand(
        "Find duplicate customers with Splink; merge the sure ones, queue the likely ones.",
        ("kithkin.identity.cli:register",)),
    "import": LazyCommand(
        "Import customers, prospects, products, transactions, lines, interactions or "
        "memberships.", ("kithkin.ingest.cli:register",)),
    "simulate": LazyCommand(
        "Generate customers, orders, interactions, memberships and prospects, import-ready.",
        ("kithkin.simulate.cli:register",)),
    # `explain` joins the customers group from the relationships module.
    "customers": LazyCommand(
        "Look up customers and assign their account managers.",
        ("kithkin.customers.cli:app", "kithkin.relationships.cli:register")),
    "duplicates": LazyCommand(
        "Review, merge, reject and undo duplicate customers.",
        ("kithkin.identity.cli:register",)),
    "stages": LazyCommand(
        "Relationship stage models, assignment and history reports.",
        ("kithkin.relationships.cli:register",)),
    "levels": LazyCommand(
        "Recommended relationship level per segment (Kotler).",
        ("kithkin.relationships.cli:register",)),
    "users": LazyCommand("Staff users and API keys.", ("kithkin.users.cli:app",)),
}


def load_command(name: str) -> click.Command:
    """Import the modules behind ``name`` and return its real click command."""
    spec = LAZY_COMMANDS[name]
    holder = typer.Typer()
    for target in spec.register:
        module_name, attribute = target.split(":")
        value = getattr(importlib.import_module(module_name), attribute)
        if isinstance(value, typer.Typer):
            holder.add_typer(value, name=name)
        else:
            register: Callable[[typer.Typer], None] = value
            register(holder)
    command = typer.main.get_group(holder).commands.get(name)
    if command is None:
        raise RuntimeError(f"{spec.register} did not register the command {name!r}")
    if name not in STORE_FREE:
        with_workspace(command)
    return command


class LazyGroup(TyperGroup):
    """Lists lazy commands by their table entry; imports one when it is resolved."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *LAZY_COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in LAZY_COMMANDS:
            return command
        # Only the help listing reaches this: resolve_command loads the real command.
        return TyperCommand(cmd_name, help=LAZY_COMMANDS[cmd_name].help)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else None
        if name in LAZY_COMMANDS and name not in self.commands:
            self.add_command(load_command(name), name)
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="kithkin",
    cls=LazyGroup,
    help="Relationship-marketing CRM: value, stages, health, playbooks and retention.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.command()
def version() -> None:
    """Print the kithkin version."""
    typer.echo(__version__)


@app.command()
def init() -> None:
    """Create the workspace (with its secret) and bring the store's schema up to date
    (safe to re-run: the secret is kept)."""
    from rich.console import Console

    from kithkin.auth.secret import secret_path, signing_secret
    from kithkin.config import get_settings
    from kithkin.database.core import get_engine
    from kithkin.database.manage import upgrade
    from kithkin.errors import ConfigurationError

    console = Console()
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

if __name__ == "__main__":
    app()
