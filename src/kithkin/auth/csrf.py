"""CSRF protection for HTML form posts (synchroniser token pattern, OWASP).

The token lives in the signed session cookie and is echoed in a hidden ``csrf_token``
form field (or an ``X-CSRF-Token`` header for scripts); a cross-site form cannot read it.
JSON API calls are covered by SameSite=Lax cookies plus the JSON content type, which a
cross-site form cannot send.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request

from kithkin.errors import PermissionDeniedError

SESSION_KEY = "csrf_token"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


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
    """Dependency for form posts: the submitted token must equal the session's."""
    expected = request.session.get(SESSION_KEY)
    submitted = request.headers.get(HEADER)
    if submitted is None:
        form = await request.form()
        value = form.get(FORM_FIELD)
        submitted = value if isinstance(value, str) else None
    if (
        not isinstance(expected, str)
        or submitted is None
        or not hmac.compare_digest(expected.encode(), submitted.encode())
    ):
        raise PermissionDeniedError("missing or invalid CSRF token; reload the form")
