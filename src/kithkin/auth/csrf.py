"""CSRF protection for every state-changing request a browser session makes
(synchroniser token pattern, OWASP).

The token lives in the signed session cookie and is echoed in a hidden ``csrf_token``
form field (dashboard forms) or an ``X-CSRF-Token`` header (scripts and API calls); a
cross-site page cannot read it. SameSite=Lax alone is not enough: a same-site page, an
older browser or a bodiless POST (``/erase``, ``/revoke``) would get through. The check
runs in one place, :func:`kithkin.api.deps.current_user`, for every POST, PUT, PATCH and
DELETE authenticated by the cookie; API-key callers are exempt (a browser never sends
an API key on its own).
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request

from kithkin.errors import PermissionDeniedError

SESSION_KEY = "csrf_token"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
# Methods that change nothing (RFC 9110 "safe"): the only ones that need no token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Only these bodies can carry the form field; any other body is never parsed here.
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use (put it in every form)."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


def rotate_csrf_token(request: Request) -> None:
    """Forget the token (call on login and logout, so a fixed token cannot be planted)."""
    request.session.pop(SESSION_KEY, None)


async def verify_csrf(request: Request) -> None:
    """The submitted token (header, else the form field of a form body) must equal the
    session's; raises PermissionDeniedError (403)."""
    expected = request.session.get(SESSION_KEY)
    submitted = request.headers.get(HEADER)
    content_type = request.headers.get("content-type", "").lower()
    if submitted is None and content_type.startswith(_FORM_TYPES):
        form = await request.form()
        value = form.get(FORM_FIELD)
        submitted = value if isinstance(value, str) else None
    if (
        not isinstance(expected, str)
        or submitted is None
        or not hmac.compare_digest(expected.encode(), submitted.encode())
    ):
        raise PermissionDeniedError("missing or invalid CSRF token; reload the form")
