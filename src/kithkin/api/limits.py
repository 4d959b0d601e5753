"""Request bodies: authenticated before they are read, and bounded while they stream.

Without this, FastAPI reads and parses a whole JSON body (or spools a whole upload)
before the route's credential check runs, so anyone could make the server hold hundreds
of megabytes per request. :class:`RequestLimitsMiddleware` is pure ASGI (it never buffers
the body) and, for a request that carries a body:

1. unless the route is public (login, logout), checks the caller's credentials with
   :func:`kithkin.auth.principal.resolve_principal` before one byte of the body is
   received, and answers 401 (or the login redirect for a browser) without reading it;
2. refuses a declared ``Content-Length`` over the route's limit with 413 at once;
3. counts the bytes as the application receives them (chunked bodies included) and
   replaces the response with 413 as soon as the count passes the limit.

Requests without a body (no ``Content-Length`` above 0, no ``Transfer-Encoding``) pass
straight through, so page reads pay nothing for it. A refused body of at most
:data:`DRAIN_BYTES` declared bytes is read and discarded so the client gets its answer on
a live connection; a larger or chunked one is never read, and the connection is closed
after the answer (a client sending ``Expect: 100-continue`` reads the answer before it
sends anything).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kithkin.api.problems import kithkin_error_handler
from kithkin.auth.principal import resolve_principal
from kithkin.config import Settings
from kithkin.errors import AuthenticationError, ContentTooLargeError, KithkinError

LOGIN_PATHS = frozenset({"/api/v1/auth/login", "/api/v1/auth/logout", "/login", "/logout"})
EVENT_BATCH_PATHS = frozenset({"/api/v1/events/batch"})
UPLOAD_PATHS = frozenset({"/api/v1/imports", "/imports"})
DRAIN_BYTES = 64 << 10  # the most uvicorn buffers from the socket anyway


@dataclass(frozen=True)
class BodyRule:
    limit: int
    public: bool  # accepted without credentials


def body_rule(path: str, settings: Settings) -> BodyRule:
    """The size limit of a route's body, and whether it is read before authentication."""
    path = path.rstrip("/") or "/"
    if path in LOGIN_PATHS:
        return BodyRule(settings.max_login_body_bytes, public=True)
    if path in EVENT_BATCH_PATHS:
        return BodyRule(settings.max_events_batch_bytes, public=False)
    if path in UPLOAD_PATHS:
        return BodyRule(settings.max_upload_bytes, public=False)
    return BodyRule(settings.max_body_bytes, public=False)


def declared_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


def has_body(headers: Headers) -> bool:
    length = declared_length(headers)
    return "transfer-encoding" in headers or (length is not None and length > 0) or (
        "content-length" in headers and length is None)


class _BodyLimitReached(HTTPException):
    """Raised into the application from ``receive``; an HTTPException so FastAPI passes
    it on unchanged. The middleware answers 413 whatever the application makes of it."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class RequestLimitsMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not has_body(headers):
            await self.app(scope, receive, send)
            return
        rule = body_rule(scope["path"], self.settings)
        length = declared_length(headers)
        if not rule.public:
            refusal = await self._authentication_refusal(scope)
            if refusal is not None:
                await self._refuse(refusal, scope, receive, send, unread=length)
                return
        if length is not None and length > rule.limit:
            await self._refuse(await self._too_large(scope, rule.limit), scope, receive, send,
                               unread=length)
            return
        await self._bounded(scope, receive, send, rule.limit)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        exceeded = started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyLimitReached
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyLimitReached
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # whatever the app answers to the cut-off body, the 413 replaces it
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await self._refuse(await self._too_large(scope, limit), scope, receive, send,
                               unread=None)

    async def _authentication_refusal(self, scope: Scope) -> Response | None:
        """The 401 (or login redirect) for a caller without valid credentials, else None."""
        request = Request(scope, _no_body)
        factory: sessionmaker[Session] = scope["app"].state.session_factory

        def check() -> KithkinError | None:
            with factory() as session:
                try:
                    resolve_principal(request=request, session=session)
                except AuthenticationError as error:
                    return error
                finally:
                    session.rollback()  # the last-used stamp is the route's to write
            return None

        error = await run_in_threadpool(check)
        return None if error is None else await kithkin_error_handler(request, error)

    async def _too_large(self, scope: Scope, limit: int) -> Response:
        error = ContentTooLargeError(
            f"the request body exceeds the {limit:,}-byte limit of this route", limit=limit)
        return await kithkin_error_handler(Request(scope, _no_body), error)

    async def _refuse(self, response: Response, scope: Scope, receive: Receive, send: Send,
                      *, unread: int | None) -> None:
        """Send ``response`` to a request whose body was not read (``unread`` declared
        bytes, None when unknown): a small body is drained so the connection stays
        usable, otherwise the connection is closed after the response."""
        if unread is None or unread > DRAIN_BYTES or not await _drained(receive):
            response.headers["connection"] = "close"
        await response(scope, _no_body, send)


async def _drained(receive: Receive) -> bool:
    """Read and discard the rest of a body of at most DRAIN_BYTES (checked by the caller);
    False when the client disconnected instead."""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return False
        if not message.get("more_body", False):
            return True
