"""Who is calling: the one credential check shared by every route and the body gate.

:func:`kithkin.api.deps.authenticated_user` and
:class:`kithkin.api.limits.RequestLimitsMiddleware`
(which authenticates before a request body is read) both call :func:`resolve_principal`,
so a change to how sessions or keys are checked applies to both at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from kithkin.auth.sessions import idle_limit, session_token
from kithkin.config import settings_of
from kithkin.errors import AuthenticationError
from kithkin.users import service as user_service
from kithkin.users import sessions as staff_sessions
from kithkin.users.models import ApiKey, StaffSession, StaffUser

API_KEY_HEADER = "X-API-Key"


def presented_api_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get(API_KEY_HEADER) or None


@dataclass(frozen=True)
class Principal:
    user: StaffUser
    api_key: ApiKey | None = None  # the key the request came with
    staff_session: StaffSession | None = None  # the browser sign-in, for cookies


def resolve_principal(*, request: Request, session: Session) -> Principal:
    """The caller: an API key, when one is presented, wins over the session cookie.

    Raises AuthenticationError when there is no valid credential. The key's
    ``last_used_at`` or the session's ``last_seen_at`` stamp is left unflushed in
    ``session``: the caller commits or rolls it back.
    """
    key = presented_api_key(request)
    if key is not None:
        user, api_key = user_service.authenticate_api_key(
            session=session, settings=settings_of(request.app.state), key=key)
        return Principal(user, api_key=api_key)
    token = session_token(request)
    if token is None:
        raise AuthenticationError("sign in or send an API key")
    user, row = staff_sessions.authenticate_session(session=session, token=token,
                                                    idle=idle_limit(request))
    return Principal(user, staff_session=row)
