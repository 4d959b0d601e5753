"""Every route either demands credentials or is deliberately public.

Walks the OpenAPI document, so a route added later without an auth dependency fails
this test instead of shipping open.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from kithkin.api.app import create_app

PUBLIC_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
}
# Served by FastAPI itself, outside the OpenAPI document: public by design.
PUBLIC_DOCS = ("/docs", "/openapi.json")


def test_every_route_requires_authentication_unless_public(sqlite_engine: Engine) -> None:
    app = create_app()  # with the dashboard when installed: its pages must be guarded too
    seen = set()
    with TestClient(app) as client:
        for path, operations in app.openapi()["paths"].items():
            concrete = re.sub(r"\{[^}]+\}", "1", path)
            for method in operations:
                route = (method.upper(), path)
                seen.add(route)
                if route in PUBLIC_ROUTES:
                    continue
                response = client.request(method.upper(), concrete, json={})
                assert response.status_code == 401, (route, response.status_code,
                                                      response.text[:200])
                assert response.headers["content-type"] == "application/problem+json"
        for path in PUBLIC_DOCS:
            assert client.get(path).status_code == 200
    assert seen >= PUBLIC_ROUTES, "a public route disappeared: update PUBLIC_ROUTES"
    assert len(seen) > 20


# Outside the OpenAPI document (dashboard pages, docs, static files): public by design.
PUBLIC_PAGE_PREFIXES = ("/openapi.json", "/docs", "/redoc", "/static/", "/login", "/logout")


def _flatten(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        if hasattr(route, "original_router"):  # an included router (FastAPI >= 0.16x)
            yield from _flatten(route.original_router.routes,
                                prefix + route.include_context.prefix)
        elif getattr(route, "include_in_schema", True) is False or not hasattr(route, "body_field"):
            for method in sorted(getattr(route, "methods", None) or []):
                if method != "HEAD":
                    yield method, prefix + route.path


def test_pages_outside_the_schema_require_a_session(sqlite_engine: Engine) -> None:
    """Dashboard pages are hidden from OpenAPI; anonymous browsers must be turned away
    (401, 403 for a form post without CSRF token, or a redirect to the login page)."""
    app = create_app()
    with TestClient(app, follow_redirects=False) as client:
        for method, path in _flatten(list(app.router.routes)):
            if path.startswith(PUBLIC_PAGE_PREFIXES) or path in {"/healthz", "/readyz"}:
                continue
            response = client.request(method, re.sub(r"\{[^}]+\}", "1", path),
                                      headers={"Accept": "text/html"})
            redirected = response.status_code in (302, 303, 307) and \
                response.headers["location"].startswith("/login")
            # A form post may be refused by its CSRF check before authentication: 403.
            refused = response.status_code == 401 or (method != "GET"
                                                       and response.status_code == 403)
            assert refused or redirected, (method, path, response.status_code)
