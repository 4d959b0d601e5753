"""Sign in, sign out and change your own password (HTML forms over the API's auth
building blocks)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from kithkin.api.deps import CurrentUser, SessionDep
from kithkin.auth import sessions
from kithkin.auth.ratelimit import sign_in_attempt
from kithkin.dashboard import navigation
from kithkin.dashboard.web import PageRoute, check_csrf, flash, render, safe_next
from kithkin.errors import (
    AuthenticationError,
    CurrentPasswordError,
    RateLimitedError,
    ValidationError,
)
from kithkin.users import service as users_service
from kithkin.users import sessions as staff_sessions

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _signed_in_role(request: Request, session: SessionDep) -> str | None:
    token = sessions.session_token(request)
    if token is None:
        return None
    try:
        user, _ = staff_sessions.authenticate_session(
            session=session, token=token, idle=sessions.idle_limit(request))
    except AuthenticationError:
        return None
    return user.role


@router.get("/login")
def login_form(request: Request, session: SessionDep, next: str = "") -> Response:
    role = _signed_in_role(request, session)
    if role is not None:
        return RedirectResponse(safe_next(next, navigation.home_for(role)), status_code=303)
    return render(request, "login.html", user=None, next=safe_next(next, ""), email="")


@router.post("/login", dependencies=[Depends(check_csrf)])
def login(request: Request, session: SessionDep, email: Annotated[str, Form()],
          password: Annotated[str, Form()], next: Annotated[str, Form()] = "") -> Response:
    try:
        with sign_in_attempt(request, account=email):
            user = users_service.authenticate(session=session, email=email,
                                              password=password)
    except (AuthenticationError, RateLimitedError) as exc:
        status = 429 if isinstance(exc, RateLimitedError) else 401
        return render(request, "login.html", user=None, status_code=status,
                      error=str(exc).capitalize(), next=safe_next(next, ""), email=email)
    sessions.log_in(request, session, user)
    session.commit()
    return RedirectResponse(safe_next(next, navigation.home_for(user.role)), status_code=303)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request, session: SessionDep) -> Response:
    sessions.log_out(request, session)
    session.commit()
    return RedirectResponse("/login", status_code=303)


@router.get("/account/password")
def password_form(request: Request, user: CurrentUser) -> Response:
    request.state.dashboard_user = user
    return render(request, "account_password.html", user=user)


@router.post("/account/password")
def change_password(request: Request, session: SessionDep, user: CurrentUser,
                    current_password: Annotated[str, Form()],
                    new_password: Annotated[str, Form()]) -> Response:
    """Every other sign-in of the user ends; this browser continues on a fresh session."""
    request.state.dashboard_user = user
    try:
        with sign_in_attempt(request, account=user.email, failure=CurrentPasswordError):
            users_service.change_own_password(session=session, user=user,
                                              current_password=current_password,
                                              new_password=new_password)
    except (ValidationError, RateLimitedError) as exc:
        session.rollback()
        status = 429 if isinstance(exc, RateLimitedError) else 400
        return render(request, "account_password.html", user=user, status_code=status,
                      error=str(exc))
    sessions.log_in(request, session, user)
    session.commit()
    flash(request, "Password changed; your other sessions were signed out.")
    return RedirectResponse(navigation.home_for(user.role), status_code=303)
