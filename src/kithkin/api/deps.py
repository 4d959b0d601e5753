"""FastAPI dependencies shared by every router: the database session and the caller.

A caller is identified by, in order: an API key (``Authorization: Bearer <key>`` or
``X-API-Key: <key>``), else the session cookie's token, looked up in ``staff_session``.
Every non-public route depends on :func:`require_permission` or :func:`require_roles`,
so authorisation is enforced server-side whatever the client shows; all of them go
through :func:`current_user`, which also demands the CSRF token of cookie sessions that
change state.

Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency
in its thread pool, and each such hop costs a request more than the check itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from kithkin.auth.csrf import SAFE_METHODS, verify_csrf
from kithkin.auth.principal import API_KEY_HEADER, resolve_principal
from kithkin.auth.roles import Access, Area, role_allows, scope_name, scopes_allow
from kithkin.config import Settings, settings_of
from kithkin.customers.scope import CustomerScope
from kithkin.database.core import session_factory, unit_of_work
from kithkin.database.writelock import bulk_write_lock
from kithkin.errors import PermissionDeniedError
from kithkin.users.models import ApiKey, Role, StaffUser

SESSION_COOKIE = "kithkin_session"

# The three ways to authenticate, declared so the OpenAPI document lists them on every
# route that needs a caller (alternatives: any one will do). current_user reads the
# same headers itself; these never refuse a request.
_BEARER = HTTPBearer(auto_error=False, scheme_name="apiKeyBearer",
                     description="An API key as `Authorization: Bearer <key>`.")
_API_KEY = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, scheme_name="apiKeyHeader",
                        description="An API key.")
_SESSION = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="sessionCookie",
                        description="The signed session cookie set by POST /auth/login; "
                                    "state-changing requests also need X-CSRF-Token.")


async def credential_schemes(
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    _api_key: Annotated[str | None, Security(_API_KEY)],
    _session: Annotated[str | None, Security(_SESSION)],
) -> None:
    """Documentation only: see the schemes above."""


def _factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] | None = getattr(request.app.state, "session_factory", None)
    if factory is None:  # an app built without create_app (tests of single routers)
        factory = session_factory()
        request.app.state.session_factory = factory
    return factory


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request: committed when the route returns, rolled back on error.

    Routes that must report committed state (ids, conflicts) call ``session.commit()``
    themselves before returning. Opening a session does no I/O, so only the commit or
    rollback and the close go to the thread pool.
    """
    work = unit_of_work(_factory(request)())
    session = work.__enter__()
    try:
        yield session
    except BaseException as error:
        with anyio.CancelScope(shield=True):  # a cancelled request still rolls back
            await run_in_threadpool(work.__exit__, type(error), error, error.__traceback__)
        raise
    await run_in_threadpool(work.__exit__, None, None, None)


SessionDep = Annotated[Session, Depends(get_session)]


async def app_settings(request: Request) -> Settings:
    """The settings of the app serving the request (``create_app(settings=...)``): routes
    hand these to services, which never read the process-wide settings."""
    return settings_of(request.app.state)


SettingsDep = Annotated[Settings, Depends(app_settings)]


def authenticated_user(request: Request, session: SessionDep,
                       _: Annotated[None, Depends(credential_schemes)]) -> StaffUser:
    """The authenticated staff user; raises AuthenticationError (401) when there is none.

    Also sets ``request.state.user``, ``request.state.api_key`` (None for cookies) and,
    for cookies, ``request.state.staff_session``.
    """
    cached: StaffUser | None = getattr(request.state, "user", None)
    if cached is not None:
        return cached
    principal = resolve_principal(request=request, session=session)
    user, api_key = principal.user, principal.api_key
    if principal.staff_session is not None:
        request.state.staff_session = principal.staff_session
    if session.dirty:
        # Write the last-used stamp now, so this request holds no write lock; on SQLite
        # skip it while a bulk write runs (it would make that write fail).
        with bulk_write_lock(session.get_bind().engine, wait=False) as free:
            if free:
                session.commit()
            else:
                session.rollback()
                # The rollback expired the caller's rows: reload them here, in the worker
                # thread. The async permission checks read them on the event loop, where
                # a lazy load waits for a pooled connection and stalls every request (for
                # the whole pool timeout once all connections are taken).
                for loaded in (user, api_key, principal.staff_session):
                    if loaded is not None:
                        session.refresh(loaded)
    request.state.user, request.state.api_key = user, api_key
    # Plain values for the audit trail: the rows may be expired by the time it writes.
    request.state.audit_actor = (user.id, user.email, api_key.id if api_key else None)
    return user


async def current_user(
        request: Request, user: Annotated[StaffUser, Depends(authenticated_user)]) -> StaffUser:
    """The caller, once a cookie session that changes state has shown its CSRF token
    (PermissionDeniedError, 403). Runs after authentication, so an anonymous caller gets
    401 first; API-key callers are exempt."""
    if request.method not in SAFE_METHODS and getattr(request.state, "api_key", None) is None:
        await verify_csrf(request)
    return user


CurrentUser = Annotated[StaffUser, Depends(current_user)]


async def customer_scope(user: CurrentUser) -> CustomerScope:
    """The customers the caller may see (an agent: those they are account manager of)."""
    return CustomerScope.for_user(user)


CustomerScopeDep = Annotated[CustomerScope, Depends(customer_scope)]


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, StaffUser]]:
    """Dependency: the caller must hold one of ``roles`` (PermissionDeniedError, 403)."""
    allowed = {Role(r).value for r in roles}

    async def dependency(user: CurrentUser) -> StaffUser:
        if user.role not in allowed:
            raise PermissionDeniedError(
                f"role {user.role!r} may not do this; needs one of {sorted(allowed)}"
            )
        return user

    return dependency


def check_permission(request: Request, user: StaffUser, area: Area, access: Access) -> None:
    """Raise PermissionDeniedError unless the role, and the API key's scopes if the
    request came with one, allow ``access`` to ``area`` (for checks that depend on the
    request body; otherwise use :func:`require_permission`)."""
    if not role_allows(user.role, area, access):
        raise PermissionDeniedError(f"role {user.role!r} may not {access.value} {area.value}")
    api_key: ApiKey | None = getattr(request.state, "api_key", None)
    if api_key is not None and not scopes_allow(api_key.scopes, area, access):
        raise PermissionDeniedError(
            f"API key {api_key.prefix} lacks scope {scope_name(area, access)!r}"
        )


def require_permission(area: Area, access: Access
                       ) -> Callable[..., Coroutine[Any, Any, StaffUser]]:
    """Dependency: the caller's role, and its API key's scopes if any, allow the action."""

    async def dependency(request: Request, user: CurrentUser) -> StaffUser:
        check_permission(request, user, area, access)
        return user

    return dependency

