"""Users and API keys from the dashboard (admin only)."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.dashboard.seeding import form_token


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
