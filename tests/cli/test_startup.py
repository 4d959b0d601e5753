"""`kithkin --help` and `kithkin version` answer without loading the analytics stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kithkin.cli.main import LAZY_COMMANDS, load_command

# pydantic is not listed: typer itself imports it to run any command.
HEAVY = {"numpy", "pandas", "scipy", "ibis", "splink", "sqlalchemy", "pyarrow", "duckdb",
         "fastapi", "pydantic_settings", "alembic", "sqlglot", "jinja2"}

PROBE = """
import json, sys
from typer.testing import CliRunner
from kithkin.cli.main import app
result = CliRunner().invoke(app, sys.argv[1:])
print(json.dumps({"exit": result.exit_code, "out": result.output,
                  "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def run_probe(*args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                          text=True, check=True, timeout=120)
    parsed: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return parsed


@pytest.mark.parametrize("args", [["--help"], ["version"], []])
def test_light_commands_import_no_heavy_module(args: list[str]) -> None:
    result = run_probe(*args)
    modules = result["modules"]
    assert isinstance(modules, list)
    loaded = set(modules)
    assert not loaded & HEAVY, f"kithkin {' '.join(args)} imported {sorted(loaded & HEAVY)}"
    if args == ["--help"]:
        assert result["exit"] == 0
        for name in LAZY_COMMANDS:
            assert name in str(result["out"])


def test_a_command_loads_its_module_on_use() -> None:
    result = run_probe("simulate", "--help")
    assert result["exit"] == 0
    assert "--customers" in str(result["out"])


@pytest.mark.parametrize("name", list(LAZY_COMMANDS))
def test_listed_help_is_the_real_commands_help(name: str) -> None:
    """The one-line help in the table is the start of the command's own help."""
    real = " ".join((load_command(name).help or "").split())
    assert real.startswith(LAZY_COMMANDS[name].help), (name, real)
