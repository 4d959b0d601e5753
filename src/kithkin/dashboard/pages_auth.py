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

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _signed_in_role(request: Request, session: SessionDep) -> str | None:
    user_id = sessions.session_user_id(request)
    user = None if user_id is None else users_service.get_active_user(session=session,
                                                                     user_id=user_id)
    return user.role if user else None


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
    address = request.client.host if request.client else "unknown"
    try:
        with limiter.attempt(address=address, account=email):
            user = users_service.authenticate(session=session, email=email,
                                              password=password)
    except (AuthenticationError, RateLimitedError) as exc:
        status = 429 if isinstance(exc, RateLimitedError) else 401
        return render(request, "login.html", user=None, status_code=status,
                      error=str(exc).capitalize(), next=safe_next(next, ""), email=email)
    session.commit()
    sessions.log_in(request, user)
    return RedirectResponse(safe_next(next, navigation.home_for(user.role)), status_code=303)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request) -> Response:
    sessions.log_out(request)
    return RedirectResponse("/login", status_code=303)
