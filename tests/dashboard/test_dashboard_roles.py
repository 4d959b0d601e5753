"""Each role sees exactly the pages it may open; the server refuses the others (403)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

PAGES = {"overview": "/", "customers": "/customers", "customer": "/customers/1",
         "cohorts": "/cohorts", "analytics": "/analytics", "imports": "/imports",
         "import job": "/imports/1", "users": "/admin/users", "tasks": "/tasks"}
ALLOWED = {
    "admin": set(PAGES),
    "manager": set(PAGES) - {"users"},
    "agent": {"customers", "customer", "tasks"},
    "analyst": {"overview", "customers", "customer", "cohorts", "analytics"},  # no tasks
}
NAV_LABELS = {"overview": "Overview", "customers": "Customers", "cohorts": "Cohorts",
              "analytics": "Analytics", "imports": "Imports", "users": "Users &amp; keys",
              "tasks": "Tasks"}


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_role_page_access(login: Callable[[str], TestClient], role: str) -> None:
    client = login(role)
    for name, path in PAGES.items():
        response = client.get(path)
        expected = 200 if name in ALLOWED[role] else 403
        assert response.status_code == expected, (role, name)
        if expected == 403:
            assert "Not allowed" in response.text and role in response.text
    nav = client.get("/customers").text.split('aria-label="Main"')[1].split("</nav>")[0]
    for key, label in NAV_LABELS.items():
        assert (f">{label}</a>" in nav) == (key in ALLOWED[role]), (role, key)


@pytest.mark.parametrize(("role", "path", "data"), [
    ("agent", "/admin/users", {"name": "x", "email": "x@y.z", "password": "p" * 10,
                               "role": "admin"}),
    ("manager", "/admin/keys", {"name": "k", "owner_id": "1"}),
    ("analyst", "/imports", {"kind": "customers"}),
])
def test_forbidden_posts_are_refused(login: Callable[[str], TestClient], role: str, path: str,
                                     data: dict[str, str]) -> None:
    client = login(role)
    token = client.get("/customers").text.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(path, data={**data, "csrf_token": token})
    assert response.status_code == 403
