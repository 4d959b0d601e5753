"""Server-side sessions: the cookie names a staff_session row, and logout, a password or
role change, deactivation and expiry end it for every copy of the cookie."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from kithkin.api.app import SESSION_COOKIE
from kithkin.database.base import utcnow
from kithkin.database.core import session_scope
from kithkin.errors import ConflictError
from kithkin.users import service as user_service
from kithkin.users import sessions as staff_sessions
from kithkin.users.models import Role, StaffSession, StaffUser

PASSWORD = "correct horse battery"  # the conftest's make_user password
MakeUser = Callable[..., tuple[int, str]]
Bearer = Callable[[str], dict[str, str]]


def signed_in(app: FastAPI, email: str, password: str = PASSWORD) -> TestClient:
    """A fresh browser signed in as ``email``."""
    browser = TestClient(app)
    response = browser.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return browser


def replay(app: FastAPI, cookie: str) -> int:
    """What a saved copy of a session cookie gets on /auth/me, from another browser."""
    thief = TestClient(app)
    thief.cookies.set(SESSION_COOKIE, cookie)
    status: int = thief.get("/api/v1/auth/me").status_code
    return status


def test_a_cookie_saved_before_logout_no_longer_works(app: FastAPI, make_user: MakeUser,
                                                       sqlite_engine: Engine) -> None:
    make_user(Role.MANAGER)
    browser = signed_in(app, "manager@example.com")
    saved = browser.cookies[SESSION_COOKIE]
    assert replay(app, saved) == 200
    assert browser.post("/api/v1/auth/logout").status_code == 204
    assert replay(app, saved) == 401
    with session_scope(sqlite_engine) as session:
        row = session.scalars(select(StaffSession)).one()
        assert row.revoked_at is not None


def test_only_a_hash_of_the_token_is_stored(app: FastAPI, make_user: MakeUser,
                                             sqlite_engine: Engine) -> None:
    make_user(Role.AGENT)
    browser = TestClient(app)
    browser.post("/api/v1/auth/login", json={"email": "agent@example.com",
                                             "password": PASSWORD},
                 headers={"User-Agent": "pytest-browser"})
    token = _token_of(browser)
    with session_scope(sqlite_engine) as session:
        row = session.scalars(select(StaffSession)).one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in {row.token_hash, row.user_agent, row.ip}
        assert row.user_agent == "pytest-browser" and row.ip
        assert row.expires_at - row.created_at == timedelta(hours=12)


def _token_of(browser: TestClient) -> str:
    """The session token inside the signed cookie (the test reads its own cookie)."""
    payload = browser.cookies[SESSION_COOKIE].split(".")[0]
    data: dict[str, str] = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    return data["sid"]


def test_signing_in_again_ends_the_session_the_cookie_held(app: FastAPI,
                                                           make_user: MakeUser) -> None:
    make_user(Role.ANALYST)
    browser = signed_in(app, "analyst@example.com")
    before = browser.cookies[SESSION_COOKIE]
    again = browser.post("/api/v1/auth/login",
                         json={"email": "analyst@example.com", "password": PASSWORD})
    assert again.status_code == 200
    assert replay(app, before) == 401
    assert browser.get("/api/v1/auth/me").status_code == 200


def test_admin_password_reset_ends_the_users_sessions_not_their_keys(
        app: FastAPI, make_user: MakeUser, keys: dict[Role, str], bearer: Bearer) -> None:
    agent_id = 3  # keys are made in Role order: admin, manager, agent, analyst
    browser = signed_in(app, "agent@example.com")
    admin = TestClient(app)
    reset = admin.post(f"/api/v1/users/{agent_id}/password", headers=bearer(keys[Role.ADMIN]),
                       json={"password": "brand new password"})
    assert reset.status_code == 200 and reset.json()["email"] == "agent@example.com"
    assert browser.get("/api/v1/auth/me").status_code == 401
    assert admin.get("/api/v1/auth/me", headers=bearer(keys[Role.AGENT])).status_code == 200
    signed_in(app, "agent@example.com", "brand new password")
    old = TestClient(app).post("/api/v1/auth/login",
                               json={"email": "agent@example.com", "password": PASSWORD})
    assert old.status_code == 401
    short = admin.post(f"/api/v1/users/{agent_id}/password",
                       headers=bearer(keys[Role.ADMIN]), json={"password": "short"})
    assert short.status_code == 422


def test_role_change_ends_sessions_and_the_key_follows_the_new_role(
        app: FastAPI, keys: dict[Role, str], bearer: Bearer) -> None:
    manager_id = 2
    browser = signed_in(app, "manager@example.com")
    api = TestClient(app)
    manager = bearer(keys[Role.MANAGER])
    assert api.get("/api/v1/privacy/customers/1/export", headers=manager).status_code == 404
    changed = api.patch(f"/api/v1/users/{manager_id}", headers=bearer(keys[Role.ADMIN]),
                        json={"role": "analyst"})
    assert changed.status_code == 200 and changed.json()["role"] == "analyst"
    assert browser.get("/api/v1/auth/me").status_code == 401
    assert api.get("/api/v1/privacy/customers/1/export", headers=manager).status_code == 403
    # A rename alone keeps the sign-in.
    browser = signed_in(app, "manager@example.com")
    api.patch(f"/api/v1/users/{manager_id}", headers=bearer(keys[Role.ADMIN]),
              json={"name": "Renamed", "role": "analyst"})
    me = browser.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["name"] == "Renamed"
    unknown = api.patch(f"/api/v1/users/{manager_id}", headers=bearer(keys[Role.ADMIN]),
                        json={"role": "owner"})
    assert unknown.status_code == 422


def test_deactivation_stops_sign_in_sessions_and_keys_until_reactivated(
        app: FastAPI, keys: dict[Role, str], bearer: Bearer) -> None:
    analyst_id = 4
    browser = signed_in(app, "analyst@example.com")
    api = TestClient(app)
    admin, analyst = bearer(keys[Role.ADMIN]), bearer(keys[Role.ANALYST])
    off = api.patch(f"/api/v1/users/{analyst_id}", headers=admin, json={"is_active": False})
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert browser.get("/api/v1/auth/me").status_code == 401
    assert api.get("/api/v1/auth/me", headers=analyst).status_code == 401
    refused = TestClient(app).post("/api/v1/auth/login",
                                   json={"email": "analyst@example.com", "password": PASSWORD})
    assert refused.status_code == 401
    on = api.patch(f"/api/v1/users/{analyst_id}", headers=admin, json={"is_active": True})
    assert on.status_code == 200
    assert api.get("/api/v1/auth/me", headers=analyst).status_code == 200
    assert browser.get("/api/v1/auth/me").status_code == 401  # an ended session stays ended
    signed_in(app, "analyst@example.com")


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(
        app: FastAPI, keys: dict[Role, str], bearer: Bearer) -> None:
    api = TestClient(app)
    admin = bearer(keys[Role.ADMIN])
    for change in ({"role": "manager"}, {"is_active": False}):
        refused = api.patch("/api/v1/users/1", headers=admin, json=change)
        assert refused.status_code == 409 and "last active admin" in refused.json()["detail"]
    assert api.patch("/api/v1/users/2", headers=admin, json={"role": "admin"}).status_code == 200
    assert api.patch("/api/v1/users/1", headers=admin,
                     json={"is_active": False}).status_code == 200
    assert api.get("/api/v1/auth/me", headers=admin).status_code == 401
    assert api.get("/api/v1/users/9999", headers=bearer(keys[Role.MANAGER])).status_code == 404


def test_own_password_change_needs_the_current_one_and_ends_other_sessions(
        app: FastAPI, make_user: MakeUser) -> None:
    make_user(Role.AGENT)
    here, elsewhere = signed_in(app, "agent@example.com"), signed_in(app, "agent@example.com")
    saved = here.cookies[SESSION_COOKIE]
    token = {"X-CSRF-Token": here.get("/api/v1/auth/csrf").json()["csrf_token"]}
    wrong = here.post("/api/v1/auth/password", json={"current_password": "not it",
                                                     "new_password": "another long one"},
                      headers=token)
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "current_password"
    assert elsewhere.get("/api/v1/auth/me").status_code == 200
    changed = here.post("/api/v1/auth/password", json={"current_password": PASSWORD,
                                                       "new_password": "another long one"},
                        headers=token)
    assert changed.status_code == 204
    assert here.get("/api/v1/auth/me").status_code == 200  # a fresh session for this browser
    assert elsewhere.get("/api/v1/auth/me").status_code == 401
    assert replay(app, saved) == 401
    signed_in(app, "agent@example.com", "another long one")


def test_admin_signs_a_user_out_everywhere(app: FastAPI, keys: dict[Role, str],
                                          bearer: Bearer) -> None:
    browsers = [signed_in(app, "manager@example.com") for _ in range(2)]
    ended = TestClient(app).post("/api/v1/users/2/sessions/end",
                                 headers=bearer(keys[Role.ADMIN]))
    assert ended.status_code == 200 and ended.json() == {"ended": 2}
    assert all(b.get("/api/v1/auth/me").status_code == 401 for b in browsers)


@pytest.mark.parametrize("column", ["expires_at", "last_seen_at"])
def test_an_expired_or_idle_session_is_refused(app: FastAPI, make_user: MakeUser,
                                               sqlite_engine: Engine, column: str) -> None:
    make_user(Role.MANAGER)
    browser = signed_in(app, "manager@example.com")
    past = utcnow() - timedelta(hours=13)
    with session_scope(sqlite_engine) as session:
        session.execute(update(StaffSession).values({column: past}))
    response = browser.get("/api/v1/auth/me")
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_last_seen_moves_at_most_once_a_minute(app: FastAPI, make_user: MakeUser,
                                               sqlite_engine: Engine) -> None:
    make_user(Role.MANAGER)
    browser = signed_in(app, "manager@example.com")
    with session_scope(sqlite_engine) as session:
        first = session.scalars(select(StaffSession.last_seen_at)).one()
    browser.get("/api/v1/auth/me")
    with session_scope(sqlite_engine) as session:
        assert session.scalars(select(StaffSession.last_seen_at)).one() == first
        session.execute(update(StaffSession).values(last_seen_at=first - timedelta(minutes=5)))
    browser.get("/api/v1/auth/me")
    with session_scope(sqlite_engine) as session:
        assert session.scalars(select(StaffSession.last_seen_at)).one() > first


def test_session_service_on_both_stores(store_engine: Engine) -> None:
    with session_scope(store_engine) as session:
        admin = user_service.create_user(session=session, email="a@example.com", name="A",
                                         password="long enough", role=Role.ADMIN)
        agent = user_service.create_user(session=session, email="b@example.com", name="B",
                                         password="long enough", role=Role.AGENT)
        day = timedelta(days=1)
        tokens = [staff_sessions.start_session(session=session, user=agent, lifetime=day)[1]
                  for _ in range(3)]
        staff_sessions.start_session(session=session, user=admin, lifetime=day)
        assert staff_sessions.end_session(session=session, token=tokens[0]) is True
        assert staff_sessions.end_session(session=session, token=tokens[0]) is False
        assert staff_sessions.end_user_sessions(session=session, user_id=agent.id) == 2
        with pytest.raises(ConflictError):
            user_service.update_user(session=session, user_id=admin.id, role=Role.AGENT)
        user_service.update_user(session=session, user_id=agent.id, is_active=False)
    with session_scope(store_engine) as session:
        live = session.scalar(select(func.count()).select_from(StaffSession)
                              .where(StaffSession.revoked_at.is_(None)))
        assert live == 1
        assert session.scalars(select(StaffUser.is_active).where(
            StaffUser.email == "b@example.com")).one() is False
