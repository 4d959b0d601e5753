"""The `kithkin` command line. Each domain adds its commands in its own module.

Domain command modules import the analytics stack (ibis, pandas, scipy, splink), which
takes seconds; `kithkin --help` and `kithkin version` must answer at once. So the
top-level group lists every command from the table in :mod:`kithkin.cli.commands` (name
and one-line help) and imports a command's module only when that command is run or asked
for its own help; the executable (:mod:`kithkin.cli.entry`) answers those two without
even importing this module. ``tests/cli/test_startup.py`` checks the table against the
real commands and counts the modules `--help` imports.

Help texts are plain text: Typer reads them as Rich markup, which would swallow a
bracketed word such as ``[columns]``, so every loaded command's help is escaped once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import typer
from typer import _click as click  # typer >= 0.29 vendors click; pinned in pyproject
from typer.core import HAS_RICH, TyperCommand, TyperGroup

from kithkin import __version__
from kithkin.cli.commands import APP_HELP, LAZY_COMMANDS, LazyCommand
from kithkin.cli.workspace import STORE_FREE, with_workspace

__all__ = ["LAZY_COMMANDS", "LazyCommand", "app", "load_command"]


def load_command(name: str) -> click.Command:
    """Import the modules behind ``name`` and return its real click command."""
    spec = LAZY_COMMANDS[name]
    from kithkin.audit import context as audit_context

    audit_context.set_process_source("cli")  # audit rows name the OS user
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
    return escape_markup(command)


_ESCAPED = "_kithkin_help_escaped"


def escape_markup(command: click.Command) -> click.Command:
    """Escape Rich markup in the help of ``command``, its options and its subcommands
    (once: a command seen again is left alone). Without Rich, help is printed as is."""
    if not HAS_RICH or getattr(command, _ESCAPED, False):
        return command
    from rich.markup import escape

    setattr(command, _ESCAPED, True)
    for attribute in ("help", "short_help", "epilog"):
        text = getattr(command, attribute, None)
        if text:
            setattr(command, attribute, escape(text))
    for param in command.params:
        text = getattr(param, "help", None)
        if text:
            param.help = escape(text)  # type: ignore[attr-defined]
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            escape_markup(sub)
    return command


class LazyGroup(TyperGroup):
    """Lists lazy commands by their table entry; imports one when it is resolved."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *LAZY_COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return escape_markup(command)
        if cmd_name not in LAZY_COMMANDS:
            return None
        # Only the help listing reaches this: resolve_command loads the real command.
        return escape_markup(TyperCommand(cmd_name, help=LAZY_COMMANDS[cmd_name].help))

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
    help=APP_HELP,
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
