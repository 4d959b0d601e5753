"""What each role may do, as (area, access) permissions checked on every route.

- admin: everything, including staff users and API keys;
- manager: everything except users and API keys (imports, erasure, analytics admin);
- agent: reads the customer-facing data and writes customers, interactions and tasks, of
  their own customers only (:mod:`kithkin.customers.scope`; tasks: also the ones they
  own); no imports, no analytics administration, no erasure;
- agent: reads the customer-facing data and writes customers and interactions, of their
  own customers only (:mod:`kithkin.customers.scope`); no imports, no analytics
  administration, no erasure; saves lists whose members are their own book, but runs no
  bulk action on them (docs/lists.md);
- analyst: read-only everywhere, analytics included.

API keys carry *scopes* that narrow their owner's role further: a request made with a
key needs the permission in the role **and** in the key's scopes.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from kithkin.users.models import Role


class Area(StrEnum):
    USERS = "users"  # staff users and API keys
    CUSTOMERS = "customers"
    PROSPECTS = "prospects"
    PRODUCTS = "products"
    TRANSACTIONS = "transactions"
    INTERACTIONS = "interactions"
    MEMBERSHIPS = "memberships"
    IMPORTS = "imports"
    ANALYTICS = "analytics"
    TASKS = "tasks"  # follow-up work; agents: tasks of their own book
    PLAYBOOKS = "playbooks"  # follow-up playbooks: read reports, run, install
    LISTS = "lists"  # saved customer lists (read, write), bulk actions on them (admin)
    OUTBOX = "outbox"  # messages to customers: read, queue one-off, retry dead letters
    AUDIT = "audit"  # the audit trail, backups and the retention policy: admins only


class Access(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"  # destructive or privileged: erasure, PII export, model refresh


Permission = tuple[Area, Access]

_BUSINESS_AREAS = [a for a in Area if a not in (Area.USERS, Area.AUDIT)]


def _all(areas: Iterable[Area], *accesses: Access) -> frozenset[Permission]:
    return frozenset((area, access) for area in areas for access in accesses)


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: _all(Area, *Access),
    Role.MANAGER: _all(_BUSINESS_AREAS, *Access),
    Role.AGENT: (
        _all(
            [Area.CUSTOMERS, Area.PROSPECTS, Area.PRODUCTS, Area.TRANSACTIONS,
             Area.INTERACTIONS, Area.MEMBERSHIPS, Area.ANALYTICS, Area.TASKS, Area.LISTS,
             Area.OUTBOX],
            Access.READ,
        )
        | _all([Area.CUSTOMERS, Area.INTERACTIONS, Area.TASKS, Area.LISTS, Area.OUTBOX],
               Access.WRITE)
    ),
    Role.ANALYST: _all(_BUSINESS_AREAS, Access.READ),
}


def role_allows(role: Role | str, area: Area, access: Access) -> bool:
    try:
        return (area, access) in ROLE_PERMISSIONS[Role(role)]
    except ValueError:  # an unknown role stored in the database grants nothing
        return False


def scope_name(area: Area, access: Access) -> str:
    return f"{area.value}:{access.value}"


def scopes_allow(scopes: Iterable[str], area: Area, access: Access) -> bool:
    """Scopes are ``area:access`` with ``*`` as a wildcard on either side (``*`` alone
    means everything the owner's role allows)."""
    wanted = {
        "*", "*:*", f"{area.value}:*", f"*:{access.value}", scope_name(area, access)
    }
    return any(scope in wanted for scope in scopes)


def validate_scopes(scopes: Iterable[str]) -> list[str]:
    """Return the scopes unchanged, or raise ValueError naming the first unknown one."""
    known_areas = {a.value for a in Area} | {"*"}
    known_access = {a.value for a in Access} | {"*"}
    result = []
    for scope in scopes:
        area, _, access = scope.partition(":")
        if scope != "*" and (area not in known_areas or access not in known_access):
            raise ValueError(f"unknown scope {scope!r}: use area:access, e.g. customers:read")
        result.append(scope)
    return result
