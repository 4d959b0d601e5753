"""A workspace is initialised on first use; a store that cannot be opened is one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

from kithkin.cli.main import app
from kithkin.config import get_settings
from kithkin.database.core import dispose_engines, get_engine


def test_refresh_on_a_fresh_folder_creates_the_workspace(workspace: Path) -> None:
    result = CliRunner().invoke(app, ["refresh", "--as-of", "2024-01-01"])
    assert result.exit_code == 0, result.output
    assert "initialised the workspace" in result.output
    assert "Traceback" not in result.output and "no such table" not in result.output
    said = " ".join(result.output.split())
    assert "defection stages: no customer with purchases yet; 0 changes" in said
    assert (workspace / "secret_key").exists()
    assert inspect(get_engine()).has_table("customer")
    again = CliRunner().invoke(app, ["customers", "show", "1"])
    assert "initialised" not in again.output  # only once
    assert "no customer matches '1'" in again.output


def test_help_writes_nothing(workspace: Path) -> None:
    for args in (["import", "--help"], ["users", "--help"], ["users", "create", "--help"]):
        assert CliRunner().invoke(app, args).exit_code == 0
    assert not workspace.exists()


def test_an_unreachable_store_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITHKIN_DATABASE_URL",
                       "postgresql://nobody@127.0.0.1:9/kithkin?connect_timeout=2")
    get_settings.cache_clear()
    dispose_engines()
    result = CliRunner().invoke(app, ["refresh"])
    assert result.exit_code == 1
    assert "cannot open the store postgresql+psycopg://nobody@127.0.0.1:9/kithkin" in " ".join(
        result.output.split())
    assert "Traceback" not in result.output
