"""Who is acting, for the audit rows written while they act.

The HTTP middleware sets an :class:`AuditContext` per request (in a context variable, so
the worker thread that runs a sync route sees it too); its ``state`` is the request's
``scope["state"]``, where authentication puts the user and API key, so rows flushed by
the route name the caller even though the middleware ran before authentication. Outside
a request the process-wide source applies: ``cli`` (with the OS user) once the CLI starts,
``scheduler`` inside scheduled jobs, ``system`` otherwise.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass
class AuditContext:
    source: str
    ip: str | None = None
    method: str | None = None
    path: str | None = None
    request_id: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    label: str | None = None  # for non-HTTP actors (cli:alice, scheduler:backup)

    def actor(self) -> tuple[int | None, str | None, int | None]:
        """(user id, label, API key id) of the caller, as far as known right now."""
        known = self.state.get("audit_actor")  # set by authentication
        if known is not None:
            user_id, email, key_id = known
            return user_id, email, key_id
        user = self.state.get("user")
        key = self.state.get("api_key")
        try:
            user_id = getattr(user, "id", None)
            label = getattr(user, "email", None) or self.label
            key_id = getattr(key, "id", None)
        except Exception:  # a detached row whose attributes were expired
            return None, self.label, None
        return user_id, label, key_id


_current: ContextVar[AuditContext | None] = ContextVar("kithkin_audit", default=None)
_process_default = AuditContext(source="system", label="system")


def current() -> AuditContext:
    return _current.get() or _process_default


def set_process_source(source: str) -> None:
    """Called once by the CLI: rows written outside a request name the OS user."""
    global _process_default
    try:
        who = getpass.getuser()
    except Exception:  # no login name (containers): still say it was the CLI
        who = "unknown"
    _process_default = AuditContext(source=source, label=f"{source}:{who}")


@contextmanager
def acting(context: AuditContext) -> Iterator[AuditContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
