"""Which pages exist, where they sit in the nav bar and which roles may open them.

The same table drives the nav bar and the server-side check, so a link is shown exactly
when following it is allowed. Engineers adding a page call :func:`register_page` from
their router module (see docs/dashboard.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from kithkin.users.models import Role

EVERYONE = frozenset(Role)
ANALYTICS = frozenset({Role.ADMIN, Role.MANAGER, Role.ANALYST})
OPERATIONS = frozenset({Role.ADMIN, Role.MANAGER})
ADMIN_ONLY = frozenset({Role.ADMIN})


@dataclass(frozen=True)
class Page:
    """A dashboard page: its key, nav label, URL and the roles allowed to open it."""

    key: str
    label: str
    path: str
    roles: frozenset[Role]
    order: int = 100
    in_nav: bool = True


_PAGES: dict[str, Page] = {}


def register_page(page: Page) -> Page:
    """Add (or replace) a page; returns it so modules can keep a handle."""
    _PAGES[page.key] = page
    return page


def page(key: str) -> Page:
    return _PAGES[key]


def allowed(key: str, role: str) -> bool:
    return role in _PAGES[key].roles


def nav_for(role: str) -> list[Page]:
    """The nav bar of a role: only pages that role may open, in display order."""
    return sorted((p for p in _PAGES.values() if p.in_nav and role in p.roles),
                  key=lambda p: (p.order, p.label))


def home_for(role: str) -> str:
    """Where a user lands after login when no page was asked for."""
    pages = nav_for(role)
    return pages[0].path if pages else "/login"


OVERVIEW = register_page(Page("overview", "Overview", "/", ANALYTICS, order=10))
CUSTOMERS = register_page(Page("customers", "Customers", "/customers", EVERYONE, order=20))
COHORTS = register_page(Page("cohorts", "Cohorts", "/cohorts", ANALYTICS, order=30))
IMPORTS = register_page(Page("imports", "Imports", "/imports", OPERATIONS, order=80))
USERS = register_page(Page("users", "Users & keys", "/admin/users", ADMIN_ONLY, order=90))
