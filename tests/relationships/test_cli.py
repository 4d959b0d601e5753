from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from kithkin.cli.main import app
from kithkin.config import get_settings
from kithkin.relationships import cli as relationships_cli
from kithkin.relationships import service

from .crafted import CUSTOMERS, add_customers, metrics
from .test_refresh import FIRST

runner = CliRunner()
EXPLAIN = ["customers", "explain"]


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich tables truncate cells to the terminal; make it wide enough to read."""
    monkeypatch.setattr(relationships_cli.console, "_width", 250)


def test_validate_reports_line_and_problem(tmp_path: Path) -> None:
    good = Path(__file__).parents[2] / "src/kithkin/relationships/stage_models/ladder.toml"
    result = runner.invoke(app, ["stages", "validate", str(good)])
    assert result.exit_code == 0, result.output
    assert "ladder" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace("referrals >= 1", "referals >= 1"))
    result = runner.invoke(app, ["stages", "validate", str(bad)], terminal_width=300)
    assert result.exit_code == 1
    assert "bad.toml:" in result.output and "unknown metric 'referals'" in result.output


def test_list_show_explain_and_levels(sqlite_engine: Engine) -> None:
    add_customers(sqlite_engine, list(CUSTOMERS))
    with Session(sqlite_engine) as session:
        service.refresh(session=session, settings=get_settings(), as_of=FIRST, metrics=metrics())
        session.commit()
    listed = runner.invoke(app, ["stages", "list"], terminal_width=300)
    assert listed.exit_code == 0 and "pyramid" in listed.output
    shown = runner.invoke(app, ["stages", "show", "journey"], terminal_width=300)
    assert shown.exit_code == 0 and "commit" in shown.output
    explained = runner.invoke(app, [*EXPLAIN, "4"], terminal_width=300)
    assert explained.exit_code == 0, explained.output
    assert "journey: partner" in explained.output and "trust 62" in explained.output
    missing = runner.invoke(app, [*EXPLAIN, "42"])
    assert missing.exit_code == 1
    override = runner.invoke(app, ["levels", "override", "value_tier", "most_valuable",
                                   "partnership", "--by", "ana"], terminal_width=300)
    assert override.exit_code == 0, override.output
    levels = runner.invoke(app, ["levels", "list", "--kind", "value_tier"],
                           terminal_width=300)
    assert "partnership (ana)" in levels.output
    funnel = runner.invoke(app, ["stages", "report", "funnel", "journey"],
                           terminal_width=300)
    assert funnel.exit_code == 0 and "acquaintance" in funnel.output
    for report in (["time", "journey"], ["down"], ["distribution", "pyramid"],
                   ["transitions", "ladder", "--start", "2025-12-01", "--end", "2026-01-01"]):
        result = runner.invoke(app, ["stages", "report", *report], terminal_width=300)
        assert result.exit_code == 0, result.output


def test_every_report_takes_limit_and_format(sqlite_engine: Engine) -> None:
    add_customers(sqlite_engine, list(CUSTOMERS))
    with Session(sqlite_engine) as session:
        service.refresh(session=session, settings=get_settings(), as_of=FIRST, metrics=metrics())
        session.commit()
    for report in (["stages", "report", "time", "journey"],
                   ["stages", "report", "distribution", "pyramid"],
                   ["stages", "report", "funnel", "journey"],
                   ["stages", "report", "down"], ["stages", "list"], ["levels", "list"]):
        as_csv = runner.invoke(app, [*report, "--format", "csv", "--limit", "1"])
        assert as_csv.exit_code == 0, (report, as_csv.output)
        assert len(as_csv.output.strip().splitlines()) <= 2, (report, as_csv.output)
        as_json = runner.invoke(app, [*report, "--format", "json"])
        assert as_json.exit_code == 0, (report, as_json.output)
        assert isinstance(json.loads(as_json.output), list), report
    levels = json.loads(runner.invoke(app, ["levels", "list", "--format", "json"]).output)
    assert {"kind", "segment", "customers", "margin rate"} <= set(levels[0])
