"""Browser sessions: the signed cookie (Starlette SessionMiddleware) holds the user id.

The cookie is signed with ``settings.secret_key`` (itsdangerous), so it cannot be forged;
it is cleared on logout and the CSRF token is rotated on every login and logout.
"""

from __future__ import annotations

from fastapi import Request

from kithkin.auth.csrf import rotate_csrf_token
from kithkin.users.models import StaffUser

USER_ID_KEY = "user_id"


def log_in(request: Request, user: StaffUser) -> None:
    request.session.clear()
    request.session[USER_ID_KEY] = user.id
    rotate_csrf_token(request)


def log_out(request: Request) -> None:
    request.session.clear()


def session_user_id(request: Request) -> int | None:
    value = request.session.get(USER_ID_KEY) if "session" in request.scope else None
    return value if isinstance(value, int) else None
