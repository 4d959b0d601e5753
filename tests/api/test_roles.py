"""Role permissions are enforced server-side on every business route."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from kithkin.auth.roles import Access, Area, role_allows, scopes_allow, validate_scopes
from kithkin.users.models import Role

Bearer = Callable[[str], dict[str, str]]

# (method, path, body) -> roles allowed. A denied role must get 403; an allowed role
# anything but 401/403 (404 is fine: the record does not exist).
CASES: list[tuple[str, str, dict[str, object] | None, set[Role]]] = [
    ("GET", "/api/v1/customers", None, set(Role)),
    ("GET", "/api/v1/customers/1", None, set(Role)),
    ("POST", "/api/v1/customers", {"external_id": "r1"},
     {Role.ADMIN, Role.MANAGER, Role.AGENT}),
    ("PATCH", "/api/v1/customers/1", {"city": "Lyon"}, {Role.ADMIN, Role.MANAGER, Role.AGENT}),
    ("GET", "/api/v1/privacy/customers/1/export", None, {Role.ADMIN, Role.MANAGER}),
    ("POST", "/api/v1/privacy/customers/1/erase", None, {Role.ADMIN, Role.MANAGER}),
    ("GET", "/api/v1/interactions", None, set(Role)),
    ("POST", "/api/v1/interactions",
     {"customer_id": 1, "occurred_at": "2024-01-01T00:00:00Z", "kind": "call",
      "direction": "outbound"}, {Role.ADMIN, Role.MANAGER, Role.AGENT}),
    ("GET", "/api/v1/products", None, set(Role)),
    ("GET", "/api/v1/prospects", None, set(Role)),
    ("GET", "/api/v1/transactions", None, set(Role)),
    ("GET", "/api/v1/memberships", None, set(Role)),
    ("POST", "/api/v1/customers/assign", {"customer_ids": [1], "account_manager_id": None},
     {Role.ADMIN, Role.MANAGER}),
    ("GET", "/api/v1/identity/duplicates", None, {Role.ADMIN, Role.MANAGER, Role.ANALYST}),
    ("GET", "/api/v1/analytics/runs", None, set(Role)),
    ("GET", "/api/v1/analytics/customers/1/metrics", None, set(Role)),
    ("GET", "/api/v1/users", None, {Role.ADMIN}),
    ("GET", "/api/v1/api-keys", None, {Role.ADMIN}),
    ("POST", "/api/v1/api-keys/999/revoke", None, {Role.ADMIN}),
]


@pytest.mark.parametrize(("method", "path", "body", "allowed"), CASES,
                         ids=[f"{m} {p}" for m, p, _, _ in CASES])
def test_role_matrix(client: TestClient, keys: dict[Role, str], bearer: Bearer,
                     add_customers: Callable[..., list[int]],
                     assign_customers: Callable[..., None], method: str, path: str,
                     body: dict[str, object] | None, allowed: set[Role]) -> None:
    assign_customers("agent@example.com", add_customers(1))  # the agent's own customer
    for role in Role:
        response = client.request(method, path, json=body, headers=bearer(keys[role]))
        if role in allowed:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.status_code)
            assert response.json()["type"].endswith("forbidden")


def test_role_table_matches_the_brief() -> None:
    assert all(role_allows(Role.ADMIN, area, access) for area in Area for access in Access)
    assert not role_allows(Role.MANAGER, Area.USERS, Access.READ)
    assert role_allows(Role.MANAGER, Area.IMPORTS, Access.WRITE)
    assert role_allows(Role.MANAGER, Area.ANALYTICS, Access.ADMIN)
    assert role_allows(Role.AGENT, Area.INTERACTIONS, Access.WRITE)
    assert not role_allows(Role.AGENT, Area.IMPORTS, Access.READ)
    assert not role_allows(Role.AGENT, Area.ANALYTICS, Access.ADMIN)
    assert not role_allows(Role.AGENT, Area.TRANSACTIONS, Access.WRITE)
    assert role_allows(Role.ANALYST, Area.ANALYTICS, Access.READ)
    assert not any(role_allows(Role.ANALYST, area, access) for area in Area
                   for access in (Access.WRITE, Access.ADMIN))
    assert not role_allows("superuser", Area.CUSTOMERS, Access.READ)


def test_scope_wildcards() -> None:
    assert scopes_allow(["*"], Area.USERS, Access.ADMIN)
    assert scopes_allow(["customers:*"], Area.CUSTOMERS, Access.WRITE)
    assert scopes_allow(["*:read"], Area.PRODUCTS, Access.READ)
    assert not scopes_allow(["*:read"], Area.PRODUCTS, Access.WRITE)
    assert not scopes_allow([], Area.PRODUCTS, Access.READ)
    with pytest.raises(ValueError, match="unknown scope"):
        validate_scopes(["customers:delete"])
