"""Sign-in, sessions, API keys and CSRF (the login throttle: test_login_throttle)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, FastAPI, Form, Request
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from kithkin.auth.csrf import csrf_token, verify_csrf
from kithkin.database.core import session_scope
from kithkin.users.models import ApiKey, Role, StaffUser

PASSWORD = "correct horse battery"  # the conftest's make_user password
Bearer = Callable[[str], dict[str, str]]
MakeUser = Callable[..., tuple[int, str]]


def login(client: TestClient, email: str, password: str = PASSWORD) -> int:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    status: int = response.status_code
    return status


def test_login_sets_a_signed_lax_httponly_cookie_and_me_reads_it(
        client: TestClient, sqlite_engine: Engine, make_user: MakeUser) -> None:
    make_user(Role.AGENT, email="Agent@Example.com")
    assert client.get("/api/v1/auth/me").status_code == 401
    response = client.post("/api/v1/auth/login",
                           json={"email": "AGENT@example.com", "password": PASSWORD})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"].lower()
    assert "kithkin_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    me = client.get("/api/v1/auth/me").json()
    assert me["email"] == "agent@example.com" and me["role"] == "agent"
    assert "password_hash" not in me
    with session_scope(sqlite_engine) as session:
        user = session.scalars(select(StaffUser)).one()
        assert user.last_login_at is not None and user.password_hash.startswith("$argon2id$")
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401


def test_wrong_password_unknown_email_and_inactive_user_are_401(
        client: TestClient, sqlite_engine: Engine, make_user: MakeUser) -> None:
    user_id, _ = make_user(Role.ANALYST)
    assert login(client, "analyst@example.com", "wrong password") == 401
    assert login(client, "nobody@example.com") == 401
    with session_scope(sqlite_engine) as session:
        session.get_one(StaffUser, user_id).is_active = False
    assert login(client, "analyst@example.com") == 401


def test_a_tampered_session_cookie_is_not_trusted(client: TestClient,
                                                  make_user: MakeUser) -> None:
    make_user(Role.ADMIN)
    assert login(client, "admin@example.com") == 200
    value = client.cookies["kithkin_session"]
    client.cookies.set("kithkin_session", value[:-3] + ("AAA" if value[-3:] != "AAA" else "BBB"))
    assert client.get("/api/v1/auth/me").status_code == 401


def test_api_key_by_bearer_or_header_and_last_used(
        client: TestClient, sqlite_engine: Engine, make_user: MakeUser, bearer: Bearer) -> None:
    _, key = make_user(Role.MANAGER)
    assert client.get("/api/v1/auth/me", headers=bearer(key)).json()["role"] == "manager"
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": key}).status_code == 200
    with session_scope(sqlite_engine) as session:
        row = session.scalars(select(ApiKey)).one()
        assert row.last_used_at is not None and key not in row.key_hash
    for bad in (key[:-1] + ("x" if key[-1] != "x" else "y"), "kk_00000000." + "a" * 43,
                "garbage"):
        response = client.get("/api/v1/auth/me", headers=bearer(bad))
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_api_key_scopes_narrow_the_role(client: TestClient, make_user: MakeUser,
                                        bearer: Bearer) -> None:
    _, key = make_user(Role.MANAGER, scopes=["customers:read"])
    assert client.get("/api/v1/customers", headers=bearer(key)).status_code == 200
    assert client.get("/api/v1/products", headers=bearer(key)).status_code == 403
    denied = client.post("/api/v1/customers", headers=bearer(key),
                         json={"external_id": "x1", "first_name": "A"})
    assert denied.status_code == 403
    assert "customers:write" in denied.json()["detail"]
    # A scope never grants more than the role: an analyst key scoped "*" cannot write.
    _, analyst = make_user(Role.ANALYST, scopes=["*"])
    assert client.post("/api/v1/customers", headers=bearer(analyst),
                       json={"external_id": "x2"}).status_code == 403


def test_admin_creates_lists_and_revokes_keys(client: TestClient, keys: dict[Role, str],
                                              bearer: Bearer) -> None:
    admin = bearer(keys[Role.ADMIN])
    created = client.post("/api/v1/api-keys", headers=admin,
                          json={"name": "etl", "scopes": ["interactions:write"]})
    assert created.status_code == 201
    body = created.json()
    new_key = body["key"]
    assert new_key.startswith(body["prefix"] + ".")
    listed = client.get("/api/v1/api-keys", headers=admin).json()
    assert all("key" not in row and "key_hash" not in row for row in listed)
    assert body["prefix"] in {row["prefix"] for row in listed}
    assert client.get("/api/v1/auth/me", headers=bearer(new_key)).status_code == 200
    revoked = client.post(f"/api/v1/api-keys/{body['id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/auth/me", headers=bearer(new_key)).status_code == 401
    bad_scope = client.post("/api/v1/api-keys", headers=admin,
                            json={"name": "x", "scopes": ["everything"]})
    assert bad_scope.status_code == 422 and bad_scope.json()["errors"][0]["field"] == "scopes"


def test_admin_creates_users_others_may_not(client: TestClient, keys: dict[Role, str],
                                            bearer: Bearer) -> None:
    payload = {"email": "new@example.com", "name": "New", "password": "long enough",
               "role": "agent"}
    for role in (Role.MANAGER, Role.AGENT, Role.ANALYST):
        assert client.post("/api/v1/users", headers=bearer(keys[role]),
                           json=payload).status_code == 403
        assert client.get("/api/v1/users", headers=bearer(keys[role])).status_code == 403
    admin = bearer(keys[Role.ADMIN])
    assert client.post("/api/v1/users", headers=admin, json=payload).status_code == 201
    assert client.post("/api/v1/users", headers=admin, json=payload).status_code == 409
    emails = {u["email"] for u in client.get("/api/v1/users", headers=admin).json()}
    assert "new@example.com" in emails
    assert login(client, "new@example.com", "long enough") == 200


def _form_app(app: FastAPI) -> None:
    @app.get("/test-form")
    def form_page(request: Request) -> dict[str, str]:
        return {"token": csrf_token(request)}

    @app.post("/test-form", dependencies=[Depends(verify_csrf)])
    def submit(name: str = Form()) -> dict[str, str]:
        return {"name": name}


def test_csrf_token_required_on_form_posts(app: FastAPI, make_user: MakeUser) -> None:
    _form_app(app)
    make_user(Role.ANALYST)  # bodies are read only from signed-in callers (api.limits)
    with TestClient(app) as client:
        assert login(client, "analyst@example.com") == 200
        token = client.get("/test-form").json()["token"]
        assert client.get("/test-form").json()["token"] == token  # stable in a session
        assert client.post("/test-form", data={"name": "a"}).status_code == 403
        assert client.post("/test-form",
                           data={"name": "a", "csrf_token": "forged"}).status_code == 403
        ok = client.post("/test-form", data={"name": "a", "csrf_token": token})
        assert ok.status_code == 200 and ok.json() == {"name": "a"}
        assert client.post("/test-form", data={"name": "b"},
                           headers={"X-CSRF-Token": token}).status_code == 200
    with TestClient(app) as other_browser:  # another session's token is worthless
        assert login(other_browser, "analyst@example.com") == 200
        other_browser.get("/test-form")
        assert other_browser.post("/test-form",
                                  data={"name": "a", "csrf_token": token}).status_code == 403
