"""Users and API keys from the dashboard (admin only)."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.dashboard.conftest import sign_in
from tests.dashboard.seeding import PASSWORD, email_of, form_token


def test_admin_creates_a_user_who_can_then_sign_in(
        login: Callable[[str], TestClient]) -> None:
    client = login("admin")
    token = form_token(client.get("/admin/users").text)
    response = client.post("/admin/users", data={
        "name": "Nina New", "email": "nina@kithkin.test", "password": "long-enough-pw",
        "role": "analyst", "csrf_token": token})
    assert response.status_code == 303
    page = client.get("/admin/users").text
    assert "User nina@kithkin.test created" in page and "Nina New" in page
    client.cookies.clear()
    token = form_token(client.get("/login").text)
    signed_in = client.post("/login", data={"email": "nina@kithkin.test",
                                            "password": "long-enough-pw",
                                            "csrf_token": token})
    assert signed_in.headers["location"] == "/"


def test_bad_user_input_is_shown_on_the_form(login: Callable[[str], TestClient]) -> None:
    client = login("admin")
    token = form_token(client.get("/admin/users").text)
    response = client.post("/admin/users", data={
        "name": "Dup", "email": "agent@kithkin.test", "password": "long-enough-pw",
        "role": "agent", "csrf_token": token})
    assert response.status_code == 400
    assert "already exists" in response.text


def test_api_key_is_shown_once_works_and_can_be_revoked(
        login: Callable[[str], TestClient]) -> None:
    client = login("admin")
    token = form_token(client.get("/admin/users").text)
    created = client.post("/admin/keys", data={"name": "sync", "owner_id": "1",
                                               "scopes": "customers:read",
                                               "csrf_token": token})
    assert created.status_code == 201
    key = re.search(r'id="new-key" type="text" readonly value="([^"]+)"', created.text)
    assert key is not None
    listing = client.get("/admin/users").text
    assert key.group(1) not in listing and "customers:read" in listing
    api = TestClient(client.app)
    headers = {"Authorization": f"Bearer {key.group(1)}"}
    assert api.get("/api/v1/auth/me", headers=headers).status_code == 200
    key_id = re.search(r'action="/admin/keys/(\d+)/revoke"', listing)
    assert key_id is not None
    revoked = client.post(f"/admin/keys/{key_id.group(1)}/revoke",
                          data={"csrf_token": form_token(listing)})
    assert revoked.status_code == 303
    assert "revoked" in client.get("/admin/users").text
    assert api.get("/api/v1/auth/me", headers=headers).status_code == 401


def _user_id(page: str, email: str) -> str:
    found = re.search(rf'<td>{re.escape(email)}</td>\s*<td>\s*<form method="post" '
                      rf'action="/admin/users/(\d+)/role"', page)
    assert found is not None, f"{email} has no row on the users page"
    return found.group(1)


def _browser_of(client: TestClient, role: str) -> TestClient:
    """A second browser, signed in as ``role``."""
    browser = TestClient(client.app, follow_redirects=False)
    sign_in(browser, role)
    assert browser.get("/customers").status_code == 200
    return browser


def test_deactivating_a_user_signs_them_out_until_reactivated(
        login: Callable[[str], TestClient]) -> None:
    client = login("admin")
    agent = _browser_of(client, "agent")
    page = client.get("/admin/users").text
    agent_id = _user_id(page, email_of("agent"))
    off = client.post(f"/admin/users/{agent_id}/deactivate",
                      data={"csrf_token": form_token(page)})
    assert off.status_code == 303
    page = client.get("/admin/users").text
    assert "deactivated: signed out" in page and f"/admin/users/{agent_id}/reactivate" in page
    assert agent.get("/customers").headers["location"].startswith("/login")
    refused = TestClient(client.app, follow_redirects=False)
    token = form_token(refused.get("/login").text)
    assert refused.post("/login", data={"email": email_of("agent"), "password": PASSWORD,
                                        "csrf_token": token}).status_code == 401
    on = client.post(f"/admin/users/{agent_id}/reactivate", data={"csrf_token": token})
    assert on.status_code == 403  # another browser's token is not this one's
    client.post(f"/admin/users/{agent_id}/reactivate", data={"csrf_token": form_token(page)})
    _browser_of(client, "agent")


def test_role_change_password_reset_and_sign_out_end_the_users_session(
        login: Callable[[str], TestClient]) -> None:
    client = login("admin")
    page = client.get("/admin/users").text
    token, manager_id = form_token(page), _user_id(page, email_of("manager"))
    manager = _browser_of(client, "manager")
    changed = client.post(f"/admin/users/{manager_id}/role",
                          data={"role": "analyst", "csrf_token": token})
    assert changed.status_code == 303
    assert "is now analyst" in client.get("/admin/users").text
    assert manager.get("/customers").status_code == 303
    manager = _browser_of(client, "manager")
    assert manager.get("/admin/users").status_code == 403  # an analyst now
    reset = client.post(f"/admin/users/{manager_id}/password",
                        data={"password": "a-new-password", "csrf_token": token})
    assert reset.status_code == 303 and manager.get("/customers").status_code == 303
    short = client.post(f"/admin/users/{manager_id}/password",
                        data={"password": "short", "csrf_token": token})
    assert short.status_code == 400 and "at least 8" in short.text
    token2 = form_token(manager.get("/login").text)
    assert manager.post("/login", data={"email": email_of("manager"),
                                        "password": "a-new-password",
                                        "csrf_token": token2}).status_code == 303
    out = client.post(f"/admin/users/{manager_id}/sign-out", data={"csrf_token": token})
    assert out.status_code == 303 and "1 session(s)" in client.get("/admin/users").text
    assert manager.get("/customers").status_code == 303


def test_the_last_admin_is_kept_and_told_why(login: Callable[[str], TestClient]) -> None:
    client = login("admin")
    page = client.get("/admin/users").text
    admin_id = _user_id(page, email_of("admin"))
    refused = client.post(f"/admin/users/{admin_id}/deactivate",
                          data={"csrf_token": form_token(page)})
    assert refused.status_code == 409 and "last active admin" in refused.text
    assert client.get("/admin/users").status_code == 200
