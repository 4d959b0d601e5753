"""`kithkin demo`, the README's first command, end to end on a small business."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kithkin.api.app import create_app
from kithkin.cli.main import app
from kithkin.demo.service import DEMO_AGENT_BOOK, DEMO_AGENT_EMAIL


def test_demo_runs_end_to_end_and_again(workspace: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["demo", "--customers", "400", "--years", "2"],
                          env={"COLUMNS": "200"})
    assert first.exit_code == 0, first.output
    for heading in ("1. simulate", "3. refresh", "4. what kithkin knows", "5. playbooks",
                    "6. dashboard"):
        assert heading in first.output
    # the playbooks' tasks and messages per level, and what the holdout comparison says
    assert "created by the playbooks, per level" in first.output
    assert "partnership" in first.output and "contacted" in first.output
    for model in ("journey", "ladder", "pyramid"):
        assert model in first.output
    line = next(x for x in first.output.splitlines() if DEMO_AGENT_EMAIL in x)
    password = line.split("password (shown once) ")[1].split()[0]
    with TestClient(create_app(include_dashboard=False)) as client:
        assert client.post("/api/v1/auth/login", json={
            "email": DEMO_AGENT_EMAIL, "password": password}).status_code == 200
        book = client.get("/api/v1/customers", params={"limit": 100}).json()["items"]
        assert 0 < len(book) <= DEMO_AGENT_BOOK  # the agent sees their partners only
    again = runner.invoke(app, ["demo", "--customers", "400", "--years", "2"],
                          env={"COLUMNS": "200"})
    assert again.exit_code == 0, again.output
    assert "printed by the first demo run" in again.output
