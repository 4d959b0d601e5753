"""Every state-changing request a cookie session makes must carry the CSRF token.

Walks the OpenAPI document and the dashboard's form routes, so a route added later is
covered without a line here: signed in by cookie, no token is 403; the token is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from kithkin.api.app import create_app
from kithkin.auth.csrf import SAFE_METHODS
from kithkin.users.models import Role
from tests.api.conftest import MakeUser
from tests.api.test_security_walk import PUBLIC_PAGE_PREFIXES, PUBLIC_ROUTES, _flatten

PASSWORD = "correct horse battery"


@pytest.fixture
def admin_browser(sqlite_engine: Engine, make_user: MakeUser,
                  add_customers: object) -> Iterator[TestClient]:
    """A client signed in as admin by cookie, on the app with the dashboard mounted."""
    make_user(Role.ADMIN)
    with TestClient(create_app(), follow_redirects=False) as client:
        signed_in = client.post("/api/v1/auth/login",
                                json={"email": "admin@example.com", "password": PASSWORD})
        assert signed_in.status_code == 200
        yield client


def _mutating_routes(client: TestClient) -> list[tuple[str, str]]:
    app = client.app
    schema = app.openapi()  # type: ignore[attr-defined]
    routes = {(method.upper(), path) for path, operations in schema["paths"].items()
              for method in operations}
    routes |= {(method, path) for method, path in _flatten(app.router.routes)  # type: ignore[attr-defined]
               if not path.startswith(PUBLIC_PAGE_PREFIXES)}
    return sorted((m, p) for m, p in routes
                  if m not in SAFE_METHODS and (m, p) not in PUBLIC_ROUTES)


def test_cookie_sessions_need_the_token_on_every_state_changing_route(
        admin_browser: TestClient) -> None:
    routes = _mutating_routes(admin_browser)
    assert ("POST", "/api/v1/privacy/customers/{customer_id}/erase") in routes
    assert ("POST", "/api/v1/api-keys/{api_key_id}/revoke") in routes
    assert any(not path.startswith("/api/") for _, path in routes), "no dashboard form"
    token = admin_browser.get("/api/v1/auth/csrf").json()["csrf_token"]
    for method, path in routes:
        # An id nothing has: the walk must not end its own session (users/1/sessions/end).
        concrete = re.sub(r"\{[^}]+\}", "999999999", path)
        # Bodiless, JSON and form bodies: none of them passes without the token.
        for body in ({}, {"json": {}}, {"data": {"csrf_token": "forged"}}):
            refused = admin_browser.request(method, concrete, **body)  # type: ignore[arg-type]
            assert refused.status_code == 403, (method, path, body, refused.status_code)
            assert "CSRF" in refused.text, (method, path)
        allowed = admin_browser.request(method, concrete, json={},
                                        headers={"X-CSRF-Token": token})
        assert allowed.status_code != 403, (method, path, allowed.text[:200])
    assert admin_browser.get("/api/v1/auth/me").status_code == 200  # still signed in


def test_bodiless_erase_and_revoke_change_nothing_without_the_token(
        admin_browser: TestClient, add_customers: object) -> None:
    customer_id = add_customers(1)[0]  # type: ignore[operator]
    key = admin_browser.post("/api/v1/api-keys", json={"name": "etl"},
                             headers={"X-CSRF-Token": _token(admin_browser)}).json()
    assert admin_browser.post(f"/api/v1/privacy/customers/{customer_id}/erase").status_code == 403
    assert admin_browser.post(f"/api/v1/api-keys/{key['id']}/revoke").status_code == 403
    assert admin_browser.get("/api/v1/auth/me",
                             headers={"X-API-Key": key["key"]}).status_code == 200
    customer = admin_browser.get(f"/api/v1/customers/{customer_id}").json()
    assert customer["first_name"] == "First0"
    revoked = admin_browser.post(f"/api/v1/api-keys/{key['id']}/revoke",
                                 headers={"X-CSRF-Token": _token(admin_browser)})
    assert revoked.status_code == 200


def test_api_keys_need_no_token_and_anonymous_callers_get_401_first(
        admin_browser: TestClient, make_user: MakeUser) -> None:
    _, key = make_user(Role.MANAGER)
    created = admin_browser.post("/api/v1/interactions", headers={"X-API-Key": key},
                                 json={})
    assert created.status_code == 422  # past authentication and CSRF, to validation
    admin_browser.cookies.clear()
    assert admin_browser.post("/api/v1/privacy/customers/1/erase").status_code == 401


def _token(client: TestClient) -> str:
    token: str = client.get("/api/v1/auth/csrf").json()["csrf_token"]
    return token
