"""Browser sign-in glue between the cookie and the ``staff_session`` table.

The cookie (Starlette SessionMiddleware, signed with the server secret) carries only a
random session token, the CSRF token and a one-off flash message. Who is signed in, and
whether that sign-in still holds, is decided by the server-side row
(:mod:`kithkin.users.sessions`), so ending the row ends the sign-in everywhere.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from sqlalchemy.orm import Session

from kithkin.auth.csrf import rotate_csrf_token
from kithkin.config import settings_of
from kithkin.users import sessions as staff_sessions
from kithkin.users.models import StaffSession, StaffUser

TOKEN_KEY = "sid"


def session_token(request: Request) -> str | None:
    value = request.session.get(TOKEN_KEY) if "session" in request.scope else None
    return value if isinstance(value, str) and value else None


def idle_limit(request: Request) -> timedelta:
    """How long a sign-in may sit unused, in the settings of the app serving ``request``."""
    return timedelta(minutes=settings_of(request.app.state).session_idle_minutes)


def log_in(request: Request, session: Session, user: StaffUser) -> StaffSession:
    """Start a new server-side session (ending the one the cookie held, if any) and put
    its token in a fresh cookie; the caller commits."""
    # The audit trail names the user signing in as the actor of the sign-in's changes.
    request.state.audit_actor = (user.id, user.email, None)
    previous = session_token(request)
    if previous is not None:
        staff_sessions.end_session(session=session, token=previous)
    row, token = staff_sessions.start_session(
        session=session, user=user,
        lifetime=timedelta(hours=settings_of(request.app.state).session_lifetime_hours),
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"))
    request.session.clear()
    request.session[TOKEN_KEY] = token
    rotate_csrf_token(request)
    return row


def log_out(request: Request, session: Session) -> None:
    """End the cookie's server-side session and clear the cookie; the caller commits."""
    token = session_token(request)
    if token is not None:
        staff_sessions.end_session(session=session, token=token)
    if "session" in request.scope:
        request.session.clear()
