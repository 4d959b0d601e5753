"""The workspace is created on first use: a command that needs the store never fails
with a raw ``no such table`` because ``kithkin init`` was not run.

:func:`ensure_workspace` does what ``kithkin init`` does (folder, signing secret, schema)
when the store has no schema yet, and says so on stderr; an initialised store costs one
catalogue query. A store that cannot be reached, or a workspace that cannot be written,
ends the command with one clear error line (exit 1) instead of a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer
from typer import _click as click
from typer.core import TyperGroup

STORE_FREE = frozenset({"simulate"})
"""Lazy commands that never open the store (everything else gets the workspace)."""


def ensure_workspace() -> bool:
    """Create the workspace and the store's schema if missing; True when it did."""
    from rich.console import Console
    from rich.markup import escape
    from sqlalchemy.exc import SQLAlchemyError

    from kithkin.auth.secret import signing_secret
    from kithkin.config import get_settings
    from kithkin.database.core import get_engine
    from kithkin.database.manage import is_initialised, upgrade
    from kithkin.errors import ConfigurationError

    console = Console(stderr=True)
    settings = get_settings()
    engine = get_engine()
    store = engine.url.render_as_string(hide_password=True)
    try:
        if is_initialised(engine):
            return False
        settings.home.mkdir(parents=True, exist_ok=True)
        signing_secret(settings)
        upgrade(engine)
    except ConfigurationError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        console.print(f"[red]error:[/] cannot open the store {escape(store)}: "
                      f"{escape(reason)}", soft_wrap=True)
        raise typer.Exit(1) from exc
    console.print(f"initialised the workspace {escape(str(settings.home.resolve()))} "
                  f"(store {escape(store)}) on first use", soft_wrap=True)
    return True


def _wrapped(callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        ensure_workspace()
        return callback(*args, **kwargs)

    return run


def with_workspace(command: click.Command) -> click.Command:
    """Make ``command`` (and every sub-command of a group) ensure the workspace before it
    runs. Only running a leaf command does: ``--help`` writes nothing."""
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            with_workspace(sub)
    elif command.callback is not None:
        command.callback = _wrapped(command.callback)
    return command
