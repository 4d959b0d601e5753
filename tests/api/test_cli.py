"""`kithkin users ...` bootstraps the first admin and API keys from the shell;
`kithkin customers assign` gives customers an account manager."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from kithkin.api.app import create_app
from kithkin.auth.ratelimit import LoginRateLimiter
from kithkin.cli.main import app
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.relationships.models import CustomerStage
from kithkin.users import service as user_service
from kithkin.users.models import Role

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


def test_assign_account_manager_by_ids_and_stage(sqlite_engine: Engine,
                                                 add_customers: Callable[..., list[int]]) -> None:
    ids = add_customers(5)
    with session_scope(sqlite_engine) as session:
        user_service.create_user(session=session, email="ann@example.com", name="Ann",
                                 password="long enough", role=Role.AGENT)
        for cid, stage in zip(ids, ["partner", "friend", "partner", "partner", "friend"],
                              strict=True):
            session.add(CustomerStage(customer_id=cid, model="journey", stage=stage, rank=3,
                                      since=date(2024, 1, 1), as_of=date(2024, 1, 1),
                                      evidence="{}"))
    done = runner.invoke(app, ["customers", "assign", "ann@example.com", str(ids[1]),
                               "--stage", "journey:partner", "--limit", "2"])
    assert done.exit_code == 0, done.output
    assert "3 of 3 customers" in done.output
    with session_scope(sqlite_engine) as session:
        managed = session.scalars(select(Customer.id).where(
            Customer.account_manager_id.is_not(None)).order_by(Customer.id)).all()
    assert managed == [ids[0], ids[1], ids[2]]
    unknown = runner.invoke(app, ["customers", "assign", "nobody@example.com", str(ids[0])])
    assert unknown.exit_code == 1 and "nobody@example.com" in unknown.output
    cleared = runner.invoke(app, ["customers", "assign", "nobody", *map(str, ids)])
    assert cleared.exit_code == 0 and "3 of 5 customers" in cleared.output


def test_users_role_password_and_deactivation_from_the_shell_end_sessions(
        sqlite_engine: Engine) -> None:
    for email, role in (("boss@example.com", "admin"), ("ann@example.com", "agent")):
        made = runner.invoke(app, ["users", "create", "--email", email, "--name", "X",
                                   "--role", role, "--password", "first-password"])
        assert made.exit_code == 0, made.output
    key = runner.invoke(app, ["users", "api-key", "create", "--email", "ann@example.com",
                              "--name", "ci"]).output.strip().splitlines()[-1]
    api = {"Authorization": f"Bearer {key}"}
    limiter = LoginRateLimiter(free_failures=100, address_free_failures=100)
    with TestClient(create_app(include_dashboard=False, login_limiter=limiter)) as browser:

        def sign_in(password: str = "first-password") -> int:
            status: int = browser.post("/api/v1/auth/login", json={
                "email": "ann@example.com", "password": password}).status_code
            return status

        def me() -> int:
            status: int = browser.get("/api/v1/auth/me").status_code
            return status

        assert sign_in() == 200 and me() == 200
        role = runner.invoke(app, ["users", "set-role", "ann@example.com", "manager"])
        assert role.exit_code == 0 and "manager" in role.output
        assert me() == 401 and sign_in() == 200
        reset = runner.invoke(app, ["users", "set-password", "ann@example.com",
                                    "--password", "second-password"])
        assert reset.exit_code == 0, reset.output
        assert me() == 401 and sign_in() == 401 and sign_in("second-password") == 200
        out = runner.invoke(app, ["users", "sign-out", "ann@example.com"])
        assert out.exit_code == 0 and "1 session(s)" in out.output and me() == 401
        assert sign_in("second-password") == 200
        off = runner.invoke(app, ["users", "deactivate", "ann@example.com"])
        assert off.exit_code == 0 and "deactivated" in off.output
        assert me() == 401 and browser.get("/api/v1/auth/me", headers=api).status_code == 401
        assert sign_in("second-password") == 401
        on = runner.invoke(app, ["users", "reactivate", "ann@example.com"])
        assert on.exit_code == 0 and "active" in on.output
        assert browser.get("/api/v1/auth/me", headers=api).json()["role"] == "manager"
    last = runner.invoke(app, ["users", "deactivate", "boss@example.com"])
    assert last.exit_code == 1 and "last active admin" in last.output
    unknown = runner.invoke(app, ["users", "set-role", "nobody@example.com", "agent"])
    assert unknown.exit_code == 1 and "nobody@example.com" in unknown.output
    listing = runner.invoke(app, ["users", "list"])
    assert "ann@example.com" in listing.output
