"""`kithkin --help` and `kithkin version` answer without loading Typer or the analytics
stack, and every help text survives Rich's markup."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from kithkin.cli import entry
from kithkin.cli.commands import APP_HELP, EAGER_COMMANDS, LAZY_COMMANDS
from kithkin.cli.main import app, load_command

# Loaded by a command's own module, never by the executable's --help or version.
HEAVY = {"numpy", "pandas", "scipy", "ibis", "splink", "sqlalchemy", "pyarrow", "duckdb",
         "fastapi", "pydantic_settings", "alembic", "sqlglot", "jinja2"}
# The executable's fast answers load none of these either.
FRAMEWORK = {"typer", "click", "rich", "pydantic", "pydantic_core", "markdown_it"}
# Modules the executable may add to a bare interpreter for --help or version: its own
# and a few small standard modules (textwrap, shutil...). Typer alone adds about 300.
MAX_EXTRA_MODULES = 40
WIDE = {"COLUMNS": "200", "TERMINAL_WIDTH": "200"}

ENTRY_PROBE = """
import json, sys
before = set(sys.modules)
from kithkin.cli.entry import main
try:
    main(sys.argv[1:])
    code = 0
except SystemExit as exit:
    code = exit.code
print()
print(json.dumps({"exit": code, "extra": sorted(set(sys.modules) - before)}))
"""

TYPER_PROBE = """
import json, sys
from typer.testing import CliRunner
from kithkin.cli.main import app
result = CliRunner().invoke(app, sys.argv[1:])
print(json.dumps({"exit": result.exit_code, "out": result.output,
                  "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def run_probe(probe: str, *args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True,
                          text=True, check=True, timeout=120)
    parsed: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return parsed


@pytest.mark.parametrize(("args", "code"), [(["--help"], 0), (["version"], 0), ([], 2)])
def test_the_executable_answers_help_and_version_without_typer(args: list[str],
                                                                 code: int) -> None:
    result = run_probe(ENTRY_PROBE, *args)
    extra = result["extra"]
    assert isinstance(extra, list)
    top = {name.split(".")[0] for name in extra}
    assert not top & (HEAVY | FRAMEWORK), f"kithkin {args} imported {sorted(top & FRAMEWORK)}"
    assert len(extra) <= MAX_EXTRA_MODULES, extra
    assert result["exit"] == code


@pytest.mark.parametrize("args", [["--help"], ["version"], []])
def test_the_typer_app_imports_no_heavy_module_for_light_commands(args: list[str]) -> None:
    result = run_probe(TYPER_PROBE, *args)
    modules = result["modules"]
    assert isinstance(modules, list)
    loaded = set(modules)
    assert not loaded & HEAVY, f"kithkin {' '.join(args)} imported {sorted(loaded & HEAVY)}"
    if args == ["--help"]:
        assert result["exit"] == 0
        for name in LAZY_COMMANDS:
            assert name in str(result["out"])


def _words(text: str) -> str:
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def test_the_fast_help_lists_what_the_typer_app_lists() -> None:
    group = typer.main.get_group(app)
    with typer.Context(group) as ctx:
        assert group.list_commands(ctx) == [*EAGER_COMMANDS, *LAZY_COMMANDS]
    fast = _words(entry.render_help(width=200))
    real = _words(CliRunner().invoke(app, ["--help"], env=WIDE).output)
    for name, text in [*EAGER_COMMANDS.items(),
                       *((name, spec.help) for name, spec in LAZY_COMMANDS.items())]:
        assert f"{name} {text}" in fast
        assert f"{name} {text}" in real
    assert APP_HELP in fast and APP_HELP in real


def test_version_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    from kithkin import __version__

    entry.main(["version"])
    assert capsys.readouterr().out == f"{__version__}\n"


def test_a_command_loads_its_module_on_use() -> None:
    result = run_probe(TYPER_PROBE, "simulate", "--help")
    assert result["exit"] == 0
    assert "--customers" in str(result["out"])


@pytest.mark.parametrize("name", list(EAGER_COMMANDS))
def test_eager_help_in_the_table_is_the_commands_docstring(name: str) -> None:
    group = typer.main.get_group(app)
    with typer.Context(group) as ctx:
        command = group.get_command(ctx, name)
    assert command is not None
    assert " ".join((command.help or "").split()) == EAGER_COMMANDS[name]


@pytest.mark.parametrize("name", list(LAZY_COMMANDS))
def test_listed_help_is_the_real_commands_help(name: str) -> None:
    """The one-line help in the table is the start of the command's own help."""
    real = " ".join((load_command(name).help or "").split()).replace("\\[", "[")
    assert real.startswith(LAZY_COMMANDS[name].help), (name, real)


def _command_paths() -> Iterator[tuple[list[str], list[str]]]:
    """Every command's argument path and the help texts it shows (as written)."""
    def walk(path: list[str], command: typer.core.TyperCommand | TyperGroup
             ) -> Iterator[tuple[list[str], list[str]]]:
        texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
        yield path, [text.replace("\\[", "[") for text in texts]
        if isinstance(command, TyperGroup):
            for name, sub in command.commands.items():
                yield from walk([*path, name], sub)  # type: ignore[arg-type]

    seen: set[str] = set()
    for name in LAZY_COMMANDS:
        command = load_command(name)
        if name not in seen:
            seen.add(name)
            yield from walk([name], command)  # type: ignore[arg-type]


BRACKETED = re.compile(r"\[[^\[\]\s]+\]")


def test_no_help_text_loses_a_bracketed_word() -> None:
    """Rich reads ``[columns]`` as a style tag and drops it unless it is escaped."""
    checked = 0
    for path, texts in _command_paths():
        words = {word for text in texts for word in BRACKETED.findall(text)}
        if not words:
            continue
        output = CliRunner().invoke(app, [*path, "--help"], env=WIDE).output
        flat = " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())
        missing = {word for word in words if word not in flat}
        assert not missing, (path, missing)
        checked += 1
    assert checked >= 1  # `import --mapping` names [columns], [defaults], [options]


def test_shell_completion_goes_to_typer() -> None:
    """Completion requests come with no arguments: they must not get the fast help."""
    env = {**os.environ, "_KITHKIN_COMPLETE": "complete_bash", "COMP_WORDS": "kithkin sta",
           "COMP_CWORD": "1"}
    done = subprocess.run([sys.executable, "-m", "kithkin"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.stdout.split() == ["stages"], done.stdout + done.stderr
