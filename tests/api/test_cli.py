"""`kithkin users ...` bootstraps the first admin and API keys from the shell."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from kithkin.api.app import create_app
from kithkin.cli.main import app

runner = CliRunner()


def test_create_admin_and_api_key_then_use_it(sqlite_engine: Engine) -> None:
    created = runner.invoke(app, ["users", "create", "--email", "Boss@Example.com", "--name",
                                  "Boss", "--role", "admin", "--password", "s3cret-pass"])
    assert created.exit_code == 0, created.output
    duplicate = runner.invoke(app, ["users", "create", "--email", "boss@example.com",
                                    "--name", "B", "--role", "agent", "--password", "x" * 9])
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    short = runner.invoke(app, ["users", "create", "--email", "c@example.com", "--name", "C",
                                "--role", "agent", "--password", "short"])
    assert short.exit_code == 1 and "at least 8" in short.output
    issued = runner.invoke(app, ["users", "api-key", "create", "--email", "boss@example.com",
                                 "--name", "ci", "--scope", "customers:read"])
    assert issued.exit_code == 0, issued.output
    key = issued.output.strip().splitlines()[-1]
    with TestClient(create_app(include_dashboard=False)) as client:
        headers = {"Authorization": f"Bearer {key}"}
        assert client.get("/api/v1/customers", headers=headers).status_code == 200
        assert client.get("/api/v1/users", headers=headers).status_code == 403
        login = client.post("/api/v1/auth/login", json={"email": "boss@example.com",
                                                         "password": "s3cret-pass"})
        assert login.status_code == 200
    listing = runner.invoke(app, ["users", "api-key", "list"])
    assert "customers:read" in listing.output and key not in listing.output
    revoked = runner.invoke(app, ["users", "api-key", "revoke", "1"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
