"""Every route either demands credentials or is deliberately public.

Walks the OpenAPI document, so a route added later without an auth dependency fails
this test instead of shipping open.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from kithkin.api.app import create_app
from kithkin.users.models import Role

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


def _api_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    for route in routes:
        if hasattr(route, "original_router"):  # an included router (FastAPI >= 0.16x)
            yield from _api_routes(route.original_router.routes,
                                   prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute) and route.include_in_schema:
            yield prefix + route.path_format, route  # {id:int} -> {id}


EVERYONE = frozenset(Role)
WRITERS = frozenset({Role.ADMIN, Role.MANAGER, Role.AGENT})
OPERATIONS = frozenset({Role.ADMIN, Role.MANAGER})
NOT_AGENTS = frozenset({Role.ADMIN, Role.MANAGER, Role.ANALYST})  # views over every customer
ADMIN = frozenset({Role.ADMIN})
# Who may call each route (docs/api.md, "Roles"): a route added without a line here fails.
ROUTE_ROLES: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/api/v1/auth/me"): EVERYONE,
    ("GET", "/api/v1/auth/csrf"): EVERYONE,
    ("POST", "/api/v1/auth/password"): EVERYONE,
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("GET", "/api/v1/users/{user_id}"): ADMIN,
    ("PATCH", "/api/v1/users/{user_id}"): ADMIN,
    ("POST", "/api/v1/users/{user_id}/password"): ADMIN,
    ("POST", "/api/v1/users/{user_id}/sessions/end"): ADMIN,
    ("GET", "/api/v1/api-keys"): ADMIN,
    ("POST", "/api/v1/api-keys"): ADMIN,
    ("POST", "/api/v1/api-keys/{api_key_id}/revoke"): ADMIN,
    ("GET", "/api/v1/customers"): EVERYONE,
    ("GET", "/api/v1/customers/{customer_id}"): EVERYONE,
    ("POST", "/api/v1/customers"): WRITERS,
    ("PATCH", "/api/v1/customers/{customer_id}"): WRITERS,
    ("POST", "/api/v1/customers/assign"): OPERATIONS,
    ("GET", "/api/v1/privacy/customers/{customer_id}/export"): OPERATIONS,
    ("POST", "/api/v1/privacy/customers/{customer_id}/erase"): OPERATIONS,
    ("GET", "/api/v1/privacy/customers/{customer_id}/consents"): EVERYONE,
    ("POST", "/api/v1/privacy/customers/{customer_id}/consents"): WRITERS,
    ("GET", "/api/v1/privacy/consenting"): EVERYONE,
    ("GET", "/api/v1/prospects"): EVERYONE,
    ("GET", "/api/v1/prospects/{prospect_id}"): EVERYONE,
    ("GET", "/api/v1/products"): EVERYONE,
    ("GET", "/api/v1/products/{product_id}"): EVERYONE,
    ("GET", "/api/v1/transactions"): EVERYONE,
    ("GET", "/api/v1/transactions/{transaction_id}"): EVERYONE,
    ("GET", "/api/v1/interactions"): EVERYONE,
    ("GET", "/api/v1/interactions/{interaction_id}"): EVERYONE,
    ("POST", "/api/v1/interactions"): WRITERS,
    ("GET", "/api/v1/memberships"): EVERYONE,
    ("GET", "/api/v1/messages"): EVERYONE,
    ("GET", "/api/v1/messages/counts"): EVERYONE,
    ("GET", "/api/v1/messages/{message_id}"): EVERYONE,
    ("POST", "/api/v1/messages"): WRITERS,
    ("POST", "/api/v1/messages/{message_id}/retry"): WRITERS,
    ("GET", "/api/v1/memberships/{membership_id}"): EVERYONE,
    ("GET", "/api/v1/identity/duplicates"): NOT_AGENTS,
    ("POST", "/api/v1/identity/merges"): OPERATIONS,
    ("GET", "/api/v1/identity/merges/{merge_id}"): NOT_AGENTS,
    ("POST", "/api/v1/identity/merges/{merge_id}/undo"): OPERATIONS,
    ("GET", "/api/v1/identity/duplicates/{candidate_id}"): NOT_AGENTS,
    ("POST", "/api/v1/identity/duplicates/{candidate_id}/merge"): OPERATIONS,
    ("POST", "/api/v1/identity/duplicates/{candidate_id}/reject"): OPERATIONS,
    ("GET", "/api/v1/relationships/models"): EVERYONE,
    ("GET", "/api/v1/relationships/customers/{customer_id}"): EVERYONE,
    ("GET", "/api/v1/relationships/reports/{model}/distribution"): EVERYONE,
    ("GET", "/api/v1/relationships/reports/{model}/transitions"): EVERYONE,
    ("GET", "/api/v1/relationships/reports/{model}/funnel"): EVERYONE,
    ("GET", "/api/v1/relationships/reports/moved-down"): EVERYONE,
    ("GET", "/api/v1/relationships/levels"): EVERYONE,
    ("PUT", "/api/v1/relationships/levels/{kind}/{segment}/override"): OPERATIONS,
    ("DELETE", "/api/v1/relationships/levels/{kind}/{segment}/override"): OPERATIONS,
    ("GET", "/api/v1/analytics/runs"): EVERYONE,
    ("GET", "/api/v1/analytics/runs/{as_of}"): EVERYONE,
    ("GET", "/api/v1/analytics/metrics"): EVERYONE,
    ("GET", "/api/v1/analytics/customers/{customer_id}/metrics"): EVERYONE,
    # an agent's at-risk list and export are their own book (scoped in the query)
    ("GET", "/api/v1/at-risk"): EVERYONE,
    ("GET", "/api/v1/at-risk.csv"): EVERYONE,
    ("GET", "/api/v1/customers/{customer_id}/defection"): EVERYONE,
    ("GET", "/api/v1/analytics/rfm"): EVERYONE,
    ("GET", "/api/v1/analytics/clv"): EVERYONE,
    ("GET", "/api/v1/analytics/cohorts"): EVERYONE,
    ("POST", "/api/v1/imports"): OPERATIONS,
    ("GET", "/api/v1/imports"): NOT_AGENTS,
    ("GET", "/api/v1/imports/{job_id}"): NOT_AGENTS,
    ("GET", "/api/v1/imports/{job_id}/rejects"): NOT_AGENTS,
    ("GET", "/api/v1/tasks"): EVERYONE,
    ("GET", "/api/v1/tasks/mine"): EVERYONE,
    ("POST", "/api/v1/tasks"): WRITERS,
    ("GET", "/api/v1/tasks/{task_id}"): EVERYONE,
    ("PATCH", "/api/v1/tasks/{task_id}"): WRITERS,
    ("POST", "/api/v1/tasks/{task_id}/snooze"): WRITERS,
    ("POST", "/api/v1/tasks/{task_id}/done"): WRITERS,
    ("POST", "/api/v1/tasks/{task_id}/cancel"): WRITERS,
    ("POST", "/api/v1/tasks/{task_id}/reopen"): WRITERS,
    ("GET", "/api/v1/customers/{customer_id}/preferences"): EVERYONE,
    ("PUT", "/api/v1/customers/{customer_id}/preferences"): WRITERS,
    ("GET", "/api/v1/customers/{customer_id}/loyalty"): EVERYONE,
    ("POST", "/api/v1/customers/{customer_id}/loyalty/redemptions"): WRITERS,
    ("POST", "/api/v1/customers/{customer_id}/loyalty/adjustments"): OPERATIONS,
    ("POST", "/api/v1/customers/{customer_id}/loyalty/price-locks"): WRITERS,
    ("GET", "/api/v1/ideas"): EVERYONE,
    ("POST", "/api/v1/ideas"): WRITERS,
    ("GET", "/api/v1/ideas/{idea_id}"): EVERYONE,
    ("POST", "/api/v1/ideas/{idea_id}/votes"): WRITERS,
    ("POST", "/api/v1/ideas/{idea_id}/comments"): WRITERS,
    ("POST", "/api/v1/ideas/{idea_id}/status"): OPERATIONS,
    ("GET", "/api/v1/customers/{customer_id}/links"): EVERYONE,
    ("POST", "/api/v1/customers/{customer_id}/links"): WRITERS,
    ("DELETE", "/api/v1/customers/{customer_id}/links/{link_id}"): WRITERS,
    ("GET", "/api/v1/customers/{customer_id}/referrals"): EVERYONE,
    ("GET", "/api/v1/referrals/top"): NOT_AGENTS,
    ("GET", "/api/v1/customers/{customer_id}/offers"): EVERYONE,
    ("GET", "/api/v1/analytics/association-rules"): EVERYONE,
    ("POST", "/api/v1/retention/exit-interviews"): WRITERS,
    ("GET", "/api/v1/retention/exit-interviews"): EVERYONE,
    ("PATCH", "/api/v1/retention/exit-interviews/{interview_id}"): WRITERS,
    ("POST", "/api/v1/retention/exit-interviews/suggest"): EVERYONE,
    ("POST", "/api/v1/retention/complaints/{complaint_id}/{action}"): WRITERS,
    ("GET", "/api/v1/retention/complaints/rates"): EVERYONE,
    ("GET", "/api/v1/retention/complaints/times"): EVERYONE,
    ("GET", "/api/v1/retention/service-recovery"): EVERYONE,
    ("GET", "/api/v1/retention/survival"): EVERYONE,
    ("GET", "/api/v1/retention/cox"): EVERYONE,
    ("GET", "/api/v1/playbooks"): NOT_AGENTS,
    ("POST", "/api/v1/playbooks/validate"): NOT_AGENTS,
    ("POST", "/api/v1/playbooks/install"): OPERATIONS,
    ("POST", "/api/v1/playbooks/dry-run"): NOT_AGENTS,
    ("POST", "/api/v1/playbooks/run"): OPERATIONS,
    ("GET", "/api/v1/playbooks/runs"): NOT_AGENTS,
    ("GET", "/api/v1/playbooks/report"): NOT_AGENTS,
    ("GET", "/api/v1/playbooks/held-back"): NOT_AGENTS,
    ("PUT", "/api/v1/playbooks/customers/{customer_id}/level"): OPERATIONS,
    ("DELETE", "/api/v1/playbooks/customers/{customer_id}/level"): OPERATIONS,
    # lists: everyone reads (agents their book), writers save, operations run bulk actions
    ("GET", "/api/v1/lists"): EVERYONE,
    ("POST", "/api/v1/lists"): WRITERS,
    ("POST", "/api/v1/lists/size"): EVERYONE,
    ("GET", "/api/v1/lists/{list_id}"): EVERYONE,
    ("PATCH", "/api/v1/lists/{list_id}"): WRITERS,
    ("DELETE", "/api/v1/lists/{list_id}"): WRITERS,
    ("GET", "/api/v1/lists/{list_id}/size"): EVERYONE,
    ("GET", "/api/v1/lists/{list_id}/members"): EVERYONE,
    ("GET", "/api/v1/lists/{list_id}/export.csv"): EVERYONE,
    ("POST", "/api/v1/lists/{list_id}/actions"): OPERATIONS,
    ("GET", "/api/v1/lists/{list_id}/actions"): EVERYONE,
    ("GET", "/api/v1/customers/{customer_id}/tags"): EVERYONE,
    ("POST", "/api/v1/customers/{customer_id}/tags"): WRITERS,
    ("DELETE", "/api/v1/customers/{customer_id}/tags/{tag}"): WRITERS,
    ("GET", "/api/v1/tags"): EVERYONE,
    ("GET", "/api/v1/audit"): ADMIN,
    ("GET", "/api/v1/audit/export.csv"): ADMIN,
}
# Checked against the request body (the kind of event), tested in test_events_imports.
BODY_CHECKED = {("POST", "/api/v1/events"), ("POST", "/api/v1/events/batch")}


def test_every_route_enforces_its_roles(client: TestClient, keys: dict[Role, str],
                                        add_customers: Any, assign_customers: Any) -> None:
    """For each route and role: 403 exactly when ROUTE_ROLES leaves the role out (the
    agent's own customer 1 exists, so agents are not refused for scope on it)."""
    assign_customers("agent@example.com", add_customers(1))
    walked = set()
    for path, route in _api_routes(client.app.routes):  # type: ignore[attr-defined]
        for method in sorted(route.methods - {"HEAD"}):
            key = (method, path)
            if key in PUBLIC_ROUTES or key in BODY_CHECKED:
                continue
            assert key in ROUTE_ROLES, f"{key}: say which roles may call it in ROUTE_ROLES"
            walked.add(key)
            for role in Role:
                response = client.request(method, re.sub(r"\{[^}]+\}", "1", path),
                                          json={}, headers={"X-API-Key": keys[role]})
                refused = response.status_code == 403
                assert refused == (role not in ROUTE_ROLES[key]), (key, role,
                                                                   response.status_code)
    assert walked == set(ROUTE_ROLES), "a route in ROUTE_ROLES no longer exists"
