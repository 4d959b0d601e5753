"""Sign in and sign out of the dashboard (HTML forms over the API's auth building blocks)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from kithkin.api.deps import SessionDep
from kithkin.auth import sessions
from kithkin.auth.ratelimit import LoginRateLimiter
from kithkin.dashboard import navigation
from kithkin.dashboard.web import PageRoute, check_csrf, render, safe_next
from kithkin.errors import AuthenticationError, RateLimitedError
from kithkin.users import service as users_service
from kithkin.users import sessions as staff_sessions

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _signed_in_role(request: Request, session: SessionDep) -> str | None:
    token = sessions.session_token(request)
    if token is None:
        return None
    try:
        user, _ = staff_sessions.authenticate_session(session=session, token=token)
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
    limiter: LoginRateLimiter = request.app.state.login_limiter
    try:
        limiter.check(ip=request.client.host if request.client else "unknown", email=email)
        user = users_service.authenticate(session=session, email=email, password=password)
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
