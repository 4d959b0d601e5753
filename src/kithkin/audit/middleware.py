"""One audit row per state-changing HTTP request and per export (pure ASGI).

Every POST, PUT, PATCH and DELETE (API and dashboard forms), and every GET that takes
data out (a path with ``export`` or ending ``.csv``, or ``format=csv``), is recorded with
method, path, caller, client address and status, whatever router it belongs to: a route
added tomorrow is audited without a line of its own. The row is written after the
response is produced, on its own connection, so a refused or failed request (401, 403,
422, 500) is recorded too. ORM rows flushed while the request runs carry the same
``request_id`` (:mod:`kithkin.audit.context`).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import anyio
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kithkin.audit import context as audit_context
from kithkin.audit.capture import base_row
from kithkin.audit.models import AuditKind, AuditLog

log = logging.getLogger(__name__)
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_IGNORED_PATHS = ("/static/",)


def is_export(method: str, path: str, query: bytes) -> bool:
    return method == "GET" and ("/export" in path or path.endswith(".csv")
                                or b"format=csv" in query)


class AuditMiddleware:
    def __init__(self, app: ASGIApp, *, engine: Engine) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        export = is_export(method, path, scope.get("query_string", b""))
        if (method not in MUTATING and not export) or path.startswith(_IGNORED_PATHS):
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        client = scope.get("client")
        ctx = audit_context.AuditContext(
            source="api" if path.startswith("/api/") else "dashboard",
            ip=client[0] if client else None, method=method, path=path[:500],
            request_id=uuid.uuid4().hex, state=state)
        status: list[int] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        with audit_context.acting(ctx):
            try:
                await self.app(scope, receive, capture)
            finally:
                row = {**base_row(AuditKind.EXPORT if export else AuditKind.REQUEST),
                       "status": status[0] if status else 500, "action": method.lower()}
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self._write, row)

    def _write(self, row: dict[str, Any]) -> None:
        try:
            with Session(self.engine) as session:
                session.execute(insert(AuditLog), [row])
                session.commit()
        except Exception:  # the response stands; losing the row must be loud
            log.exception("could not write the audit row for %s %s", row.get("method"),
                          row.get("path"))
