"""Who is calling: the one credential check shared by every route and the body gate.

:func:`kithkin.api.deps.current_user` and :class:`kithkin.api.limits.RequestLimitsMiddleware`
(which authenticates before a request body is read) both call :func:`resolve_principal`,
so a change to how sessions or keys are checked applies to both at once.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from kithkin.auth.sessions import session_user_id
from kithkin.errors import AuthenticationError
from kithkin.users import service as user_service
from kithkin.users.models import ApiKey, StaffUser

API_KEY_HEADER = "X-API-Key"


def presented_api_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get(API_KEY_HEADER) or None


def resolve_principal(*, request: Request, session: Session) -> tuple[StaffUser, ApiKey | None]:
    """The caller and the API key it used (None for a browser session).

    An API key, when one is presented, wins over the session cookie. Raises
    AuthenticationError when there is no valid credential. An API key's ``last_used_at``
    stamp is left unflushed in ``session``: the caller commits or rolls it back.
    """
    key = presented_api_key(request)
    if key is not None:
        return user_service.authenticate_api_key(session=session, key=key)
    user_id = session_user_id(request)
    user = None if user_id is None else user_service.get_active_user(
        session=session, user_id=user_id)
    if user is None:
        raise AuthenticationError("sign in or send an API key")
    return user, None
