"""No forgeable signing secret: the workspace generates one (0600, kept across inits), a
weak explicit one is refused outside dev mode, and a cookie forged with the old public
value, or with any value, signs nobody in (the cookie must name a live server session)."""

from __future__ import annotations

import json
import stat
from base64 import b64encode
from collections.abc import Callable
from pathlib import Path

import itsdangerous
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from kithkin.api import serving
from kithkin.api.app import SESSION_COOKIE, create_app
from kithkin.auth import secret
from kithkin.cli.main import app as cli
from kithkin.config import get_settings
from kithkin.errors import ConfigurationError
from kithkin.users.models import Role

PUBLIC_VALUE = "dev-insecure-change-me"
FORGED_TARGETS = ("/api/v1/auth/me", "/api/v1/users", "/api/v1/privacy/customers/1/export")
runner = CliRunner()


def forge(session: dict[str, object], signing_key: str) -> str:
    """A cookie as Starlette's SessionMiddleware writes it, signed with ``signing_key``."""
    data = b64encode(json.dumps(session).encode())
    return itsdangerous.TimestampSigner(signing_key).sign(data).decode()


def use_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"KITHKIN_{name.upper()}", value)
    get_settings.cache_clear()


def test_a_cookie_forged_with_the_old_public_value_is_refused(
        sqlite_engine: Engine, make_user: Callable[..., tuple[int, str]],
        add_customers: Callable[..., list[int]]) -> None:
    admin_id, key = make_user(Role.ADMIN)
    add_customers(1)
    with TestClient(create_app(include_dashboard=False)) as client:
        headers = {"Authorization": f"Bearer {key}"}
        assert all(client.get(p, headers=headers).status_code == 200 for p in FORGED_TARGETS)
        client.cookies.set(SESSION_COOKIE, forge({"user_id": admin_id}, PUBLIC_VALUE))
        for path in FORGED_TARGETS:
            assert client.get(path).status_code == 401, path


def test_even_with_the_signing_key_a_cookie_needs_a_live_session(
        sqlite_engine: Engine, make_user: Callable[..., tuple[int, str]],
        add_customers: Callable[..., list[int]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Dev mode may sign with the public value; a forged cookie still gets nobody in,
    whether it carries a user id or a made-up session token."""
    use_env(monkeypatch, secret_key=PUBLIC_VALUE, dev_mode="1")
    admin_id, _ = make_user(Role.ADMIN)
    add_customers(1)
    with TestClient(create_app(include_dashboard=False)) as client:
        for forged in ({"user_id": admin_id}, {"sid": "a" * 43, "user_id": admin_id}):
            client.cookies.set(SESSION_COOKIE, forge(forged, PUBLIC_VALUE))
            for path in FORGED_TARGETS:
                assert client.get(path).status_code == 401, (forged, path)


@pytest.mark.parametrize("value", [PUBLIC_VALUE, "", "short-but-not-empty", " " * 40])
def test_create_app_refuses_a_weak_secret_outside_dev_mode(
        sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    use_env(monkeypatch, secret_key=value)
    with pytest.raises(ConfigurationError, match="KITHKIN_SECRET_KEY"):
        create_app(include_dashboard=False)
    use_env(monkeypatch, dev_mode="1")
    create_app(include_dashboard=False)  # an explicit development setting allows it


def test_serve_refuses_to_start_on_the_public_value(
        sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    monkeypatch.setattr(serving, "run", lambda factory, **_: started.append(factory))
    use_env(monkeypatch, secret_key=PUBLIC_VALUE)
    refused = runner.invoke(cli, ["serve"])
    assert refused.exit_code == 1 and "public development value" in refused.output
    assert started == []
    use_env(monkeypatch, dev_mode="true")
    warned = runner.invoke(cli, ["serve"])
    assert warned.exit_code == 0 and "KITHKIN_DEV_MODE" in warned.output
    monkeypatch.delenv("KITHKIN_SECRET_KEY")
    monkeypatch.delenv("KITHKIN_DEV_MODE")
    get_settings.cache_clear()
    quiet = runner.invoke(cli, ["serve"])  # the workspace secret: no flag needed
    assert quiet.exit_code == 0 and "warning" not in quiet.output
    assert len(started) == 2


def test_init_generates_an_owner_only_secret_and_keeps_it(workspace: Path) -> None:
    first = runner.invoke(cli, ["init"])
    assert first.exit_code == 0, first.output
    path = workspace / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    value = path.read_text().strip()
    assert len(value) >= 60 and value != PUBLIC_VALUE
    second = runner.invoke(cli, ["init"])
    assert second.exit_code == 0, second.output
    assert path.read_text().strip() == value
    assert secret.signing_secret(get_settings()) == value
    assert list(workspace.glob(".secret_key.*")) == []  # no temporary file left behind


def test_each_workspace_gets_its_own_secret(tmp_path: Path) -> None:
    one = secret.read_or_create_workspace_secret(tmp_path / "a" / "secret_key")
    other = secret.read_or_create_workspace_secret(tmp_path / "b" / "secret_key")
    assert one != other
    assert secret.read_or_create_workspace_secret(tmp_path / "a" / "secret_key") == one


def test_a_secret_file_others_can_read_or_a_weak_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    secret.read_or_create_workspace_secret(path)
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        secret.read_or_create_workspace_secret(path)
    path.write_text(PUBLIC_VALUE)
    path.chmod(0o600)
    with pytest.raises(ConfigurationError, match="public development value"):
        secret.read_or_create_workspace_secret(path)


def test_a_strong_explicit_secret_wins_over_the_workspace_file(
        workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    strong = "x" * 20 + "-strong-enough-value"
    use_env(monkeypatch, secret_key=strong)
    assert secret.signing_secret(get_settings()) == strong
    assert not (workspace / "secret_key").exists()
