"""Staff admin from the CLI, the API and the dashboard is audited; deactivation ends a
user's sessions and stops their API keys; the trail is filterable and exportable."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from kithkin.api.app import create_app
from kithkin.audit.models import AuditLog
from kithkin.cli.main import app as cli
from kithkin.database.core import session_scope
from kithkin.users.models import Role
from tests.api.conftest import PASSWORD, MakeUser

runner = CliRunner()


def _trail(engine: Engine, **where: object) -> list[AuditLog]:
    with session_scope(engine) as session:
        query = select(AuditLog).order_by(AuditLog.id)
        for name, value in where.items():
            query = query.where(getattr(AuditLog, name) == value)
        return list(session.scalars(query))


def test_cli_changes_name_the_os_user_and_hide_secrets(sqlite_engine: Engine) -> None:
    created = runner.invoke(cli, ["users", "create", "--email", "a@example.com", "--name",
                                  "A", "--role", "agent", "--password", "first password"])
    assert created.exit_code == 0, created.output
    for args in (["users", "set-role", "a@example.com", "manager"],
                 ["users", "set-password", "a@example.com", "--password", "second password"],
                 ["users", "deactivate", "a@example.com"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
    rows = _trail(sqlite_engine, entity="staff_user", action="update")
    assert [row.changes for row in rows] == [
        {"role": ["agent", "manager"]},
        {"password_hash": ["[redacted]", "[redacted]"]},
        {"is_active": [True, False]},
    ]
    assert {row.source for row in rows} == {"cli"}
    assert all(row.actor_label and row.actor_label.startswith("cli:") for row in rows)
    listed = runner.invoke(cli, ["audit", "list", "--entity", "staff_user", "--format",
                                 "csv"])
    assert listed.exit_code == 0 and "is_active" in listed.output, listed.output
    assert "first password" not in str([r.changes for r in _trail(sqlite_engine)])


def test_api_deactivation_ends_sessions_stops_keys_and_is_audited(
        sqlite_engine: Engine, make_user: MakeUser) -> None:
    admin_id, admin_key = make_user(Role.ADMIN, email="admin@example.com")
    target_id, target_key = make_user(Role.MANAGER, email="m@example.com")
    admin = {"X-API-Key": admin_key}
    with TestClient(create_app(include_dashboard=False)) as browser, \
            TestClient(create_app(include_dashboard=False)) as client:
        assert browser.post("/api/v1/auth/login", json={
            "email": "m@example.com", "password": PASSWORD}).status_code == 200
        assert browser.get("/api/v1/auth/me").status_code == 200
        assert client.get("/api/v1/auth/me", headers={"X-API-Key": target_key}
                          ).status_code == 200
        changed = client.patch(f"/api/v1/users/{target_id}", headers=admin,
                               json={"is_active": False, "role": "analyst"})
        assert changed.status_code == 200, changed.text
        assert browser.get("/api/v1/auth/me").status_code == 401
        assert client.get("/api/v1/auth/me", headers={"X-API-Key": target_key}
                          ).status_code == 401
        login, update = _trail(sqlite_engine, entity="staff_user", entity_id=str(target_id),
                               action="update")
        assert login.path == "/api/v1/auth/login" and login.changes is not None
        assert list(login.changes) == ["last_login_at"]
        assert update.changes == {"is_active": [True, False], "role": ["manager", "analyst"]}
        assert (update.actor_user_id, update.source) == (admin_id, "api")
        assert update.method == "PATCH" and update.request_id
        ended = _trail(sqlite_engine, entity="staff_session", action="end_sessions")
        assert ended and ended[-1].request_id == update.request_id
        # Filter and export through the API; the export is itself audited.
        page = client.get("/api/v1/audit", headers=admin,
                          params={"entity": "staff_user", "entity_id": str(target_id),
                                  "action": "update"}).json()
        assert [item["id"] for item in page["items"]] == [update.id, login.id]
        exported = client.get("/api/v1/audit/export.csv", headers=admin,
                              params={"actor": "admin@"})
        assert exported.status_code == 200
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert rows and {row["actor_label"] for row in rows} == {"admin@example.com"}
        assert any(row["entity"] == "staff_user" and "is_active" in row["changes"]
                   for row in rows)
        assert _trail(sqlite_engine, kind="export", path="/api/v1/audit/export.csv")
        manager_key = make_user(Role.MANAGER, email="m2@example.com")[1]
        assert client.get("/api/v1/audit", headers={"X-API-Key": manager_key}
                          ).status_code == 403


def test_dashboard_user_admin_and_audit_page(sqlite_engine: Engine,
                                             make_user: MakeUser) -> None:
    make_user(Role.ADMIN, email="admin@example.com")
    target_id, _ = make_user(Role.AGENT, email="agent@example.com")
    with TestClient(create_app()) as browser:
        browser.post("/api/v1/auth/login", json={"email": "admin@example.com",
                                                 "password": PASSWORD})
        token = browser.get("/api/v1/auth/csrf").json()["csrf_token"]
        done = browser.post(f"/admin/users/{target_id}/deactivate",
                            data={"csrf_token": token}, follow_redirects=False)
        assert done.status_code == 303
        page = browser.get("/admin/audit", params={"entity": "staff_user"})
        assert page.status_code == 200
        assert "is_active" in page.text and "admin@example.com" in page.text
        (row,) = _trail(sqlite_engine, entity="staff_user", action="update",
                        entity_id=str(target_id))
        assert (row.source, row.path) == ("dashboard", f"/admin/users/{target_id}/deactivate")


def test_time_filters_read_zone_less_times_as_utc(client: TestClient,
                                                  make_user: MakeUser) -> None:
    key = make_user(Role.ADMIN, email="admin@example.com")[1]
    headers = {"X-API-Key": key}
    everything = client.get("/api/v1/audit", headers=headers,
                            params={"since": "2000-01-01T00:00:00"})
    assert everything.status_code == 200 and everything.json()["items"]
    nothing = client.get("/api/v1/audit", headers=headers,
                         params={"until": "2000-01-01T00:00:00+02:00"})
    assert nothing.status_code == 200 and nothing.json()["items"] == []
    assert client.get("/api/v1/audit", headers=headers, params={"until": "0.5"}
                      ).status_code == 422
