"""Security headers on every response (OWASP Secure Headers).

- ``Content-Security-Policy``: scripts, styles, images and fetches from this origin
  only, no inline script or style, no framing, forms post only here. The dashboard
  keeps to it (its JS and CSS are files; chart data travels in
  ``<script type="application/json">`` blocks, which are never run; plotly.js's CSS is
  served as a file, see :mod:`kithkin.dashboard.pages_static`). The API docs pages
  (Swagger UI, ReDoc, their assets served from this origin by :mod:`kithkin.api.docs`)
  start with an inline bootstrap script, so they get a policy that allows exactly that,
  nothing from another origin, and still forbids framing.
- ``X-Frame-Options: DENY`` (older browsers), ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: same-origin``, ``Cross-Origin-Opener-Policy: same-origin``.
- ``Cache-Control: no-store`` unless the route set its own (only the static files do):
  pages and API answers carry personal data and CSRF tokens, which no shared or
  browser cache should keep.
- ``Strict-Transport-Security`` when the app is served behind TLS (``https_only``).

A pure ASGI middleware: headers the route already set win, nothing else is touched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kithkin.api.docs import DOCS_URL, OAUTH2_REDIRECT_URL, REDOC_URL

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI and ReDoc (served from this app, see kithkin.api.docs) start with an inline
# bootstrap script and style, and ReDoc runs a web worker from a blob.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; font-src 'self'; img-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({DOCS_URL, OAUTH2_REDIRECT_URL, REDOC_URL})
HSTS = "max-age=31536000; includeSubDomains"

_COMMON: list[tuple[bytes, bytes]] = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, https_only: bool = False) -> None:
        self.app = app
        extra = [(b"strict-transport-security", HSTS.encode())] if https_only else []
        self._pages = [(b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                       *_COMMON, *extra]
        self._docs = [(b"content-security-policy", DOCS_CONTENT_SECURITY_POLICY.encode()),
                      *_COMMON, *extra]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        defaults = self._docs if scope["path"] in DOCS_PATHS else self._pages

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in defaults if item[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
