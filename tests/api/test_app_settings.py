"""``create_app(settings=...)`` isolates an app: two apps built with different settings in
one process each serve by their own, whatever the process-wide settings say.

Services never read the global settings; routes hand over the app's (``SettingsDep``).
These tests fail if a service on the request path falls back to ``get_settings()``: the
process-wide workspace (the autouse ``workspace`` fixture) differs from both apps'.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kithkin.api.app import create_app
from kithkin.config import Settings
from kithkin.database.core import build_engine, session_scope
from kithkin.users import service as user_service
from kithkin.users.models import Role, StaffSession

from .conftest import PASSWORD


def _app(home: Path, template: Path, **values: object) -> tuple[TestClient, Settings]:
    """An app over its own workspace and store, with an admin who can sign in."""
    settings = Settings(home=home, **values)  # type: ignore[arg-type]
    home.mkdir(parents=True)
    shutil.copyfile(template, home / "kithkin.db")
    engine = build_engine(settings.resolved_database_url)
    with session_scope(engine) as session:
        user_service.create_user(session=session, email="m@example.com", name="M",
                                 password=PASSWORD, role=Role.ADMIN)
    engine.dispose()
    return TestClient(create_app(settings, include_dashboard=False)), settings


@pytest.fixture
def two_apps(tmp_path: Path, migrated_template: Path,
             workspace: Path) -> tuple[tuple[TestClient, Settings], tuple[TestClient, Settings]]:
    first = _app(tmp_path / "first", migrated_template, session_lifetime_hours=1)
    second = _app(tmp_path / "second", migrated_template, session_lifetime_hours=48)
    for home in (tmp_path / "first", tmp_path / "second"):
        assert home != workspace
    (tmp_path / "first" / "relationships.toml").write_text('active_models = ["journey"]\n')
    (tmp_path / "second" / "relationships.toml").write_text('active_models = ["pyramid"]\n')
    return first, second


def _lifetime(settings: Settings) -> timedelta:
    engine = build_engine(settings.resolved_database_url)
    with session_scope(engine) as session:
        row = session.scalars(select(StaffSession)).one()
        lifetime = row.expires_at - row.created_at
    engine.dispose()
    return lifetime


def test_each_app_signs_in_for_its_own_session_lifetime(two_apps: tuple[
        tuple[TestClient, Settings], tuple[TestClient, Settings]]) -> None:
    for client, _ in two_apps:
        response = client.post("/api/v1/auth/login",
                               json={"email": "m@example.com", "password": PASSWORD})
        assert response.status_code == 200, response.text
        assert client.get("/api/v1/auth/me").status_code == 200
    (_, first), (_, second) = two_apps
    assert _lifetime(first) == timedelta(hours=1)
    assert _lifetime(second) == timedelta(hours=48)


def test_each_app_reads_its_own_workspace_and_secret(two_apps: tuple[
        tuple[TestClient, Settings], tuple[TestClient, Settings]]) -> None:
    keys = []
    for client, _ in two_apps:
        client.post("/api/v1/auth/login", json={"email": "m@example.com", "password": PASSWORD})
        token = client.get("/api/v1/auth/csrf").json()["csrf_token"]
        created = client.post("/api/v1/api-keys", json={"name": "k", "scopes": ["*"]},
                              headers={"X-CSRF-Token": token})
        assert created.status_code == 201, created.text
        keys.append(created.json()["key"])
    active = []
    for (client, _), key in zip(two_apps, keys, strict=True):
        models = TestClient(client.app).get("/api/v1/relationships/models",
                                            headers={"Authorization": f"Bearer {key}"})
        assert models.status_code == 200, models.text
        active.append([m["name"] for m in models.json() if m["active"]])
    assert active == [["journey"], ["pyramid"]]
