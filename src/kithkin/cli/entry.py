"""The `kithkin` executable: answers `kithkin version` and the top-level `kithkin --help`
before importing anything, and hands every other command line to the Typer app.

Importing Typer alone takes longer than either answer should (it loads Click, Rich for
help and, to run a command, pydantic). The top-level help is drawn here from the command
table (:mod:`kithkin.cli.commands`) in the panel layout Typer's Rich help uses, so it
looks the same as every command's own help.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Sequence

from kithkin import __version__
from kithkin.cli.commands import APP_HELP, APP_OPTIONS, EAGER_COMMANDS, LAZY_COMMANDS

PROG = "kithkin"
COMPLETION_VARIABLE = "_KITHKIN_COMPLETE"


def _width() -> int:
    """As Typer's Rich help: TERMINAL_WIDTH or COLUMNS, else the terminal's, else 80."""
    for name in ("TERMINAL_WIDTH", "COLUMNS"):
        value = os.environ.get(name, "")
        if value.isdigit():
            return max(40, int(value))
    try:
        return max(40, os.get_terminal_size(sys.stdout.fileno()).columns)
    except (OSError, ValueError):  # not a terminal
        return 80


def _panel(title: str, rows: Sequence[tuple[str, str]], width: int) -> list[str]:
    """A Rich-style rounded panel of two columns: names, then wrapped help."""
    inner = width - 4  # "│ " + text + " │"
    left = max(len(name) for name, _ in rows) + 2
    right = max(10, inner - left)
    lines = ["╭─ " + title + " " + "─" * (width - len(title) - 5) + "╮"]
    for name, text in rows:
        wrapped = textwrap.wrap(text, right) or [""]
        for index, part in enumerate(wrapped):
            cell = (name if index == 0 else "").ljust(left) + part
            lines.append("│ " + cell.ljust(inner) + " │")
    lines.append("╰" + "─" * (width - 2) + "╯")
    return lines


def render_help(width: int | None = None) -> str:
    """The top-level help: usage, description, options and every command."""
    width = width or _width()
    commands = [*EAGER_COMMANDS.items(), *((name, c.help) for name, c in LAZY_COMMANDS.items())]
    lines = ["", f" Usage: {PROG} [OPTIONS] COMMAND [ARGS]...", ""]
    lines += [" " + part for part in textwrap.wrap(APP_HELP, width - 2)]
    lines.append("")
    lines += _panel("Options", list(APP_OPTIONS.items()), width)
    lines += _panel("Commands", commands, width)
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Run `kithkin` with ``argv`` (default: the process's arguments)."""
    args = list(sys.argv[1:] if argv is None else argv)
    # Shell completion calls the program with the request in the environment: Typer's.
    completing = COMPLETION_VARIABLE in os.environ
    if args == ["version"] and not completing:
        sys.stdout.write(__version__ + "\n")
        return
    if (not args or args == ["--help"]) and not completing:
        sys.stdout.write(render_help())
        # Like Click: asking for help exits 0, running no command at all exits 2.
        raise SystemExit(0 if args else 2)
    from kithkin.cli.main import app

    app(args=args, prog_name=PROG)


if __name__ == "__main__":
    main()
