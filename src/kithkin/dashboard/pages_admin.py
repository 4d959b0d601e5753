"""Staff users and API keys (admin only). A new key is shown once, right after creation.
A role change, a deactivation or a password reset ends the user's sign-ins at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from kithkin.api.deps import SessionDep
from kithkin.api.params import IdPath
from kithkin.config import settings_of
from kithkin.dashboard import navigation
from kithkin.dashboard.web import PageRoute, flash, render, require_page
from kithkin.errors import ConflictError, ValidationError
from kithkin.users import service as users_service
from kithkin.users import sessions as staff_sessions
from kithkin.users.models import Role, StaffUser

router = APIRouter(prefix="/admin", route_class=PageRoute, include_in_schema=False)

AdminUser = Annotated[StaffUser, Depends(require_page(navigation.USERS.key))]


def _users_page(request: Request, session: SessionDep, user: StaffUser, *,
                status_code: int = 200, error: str | None = None,
                new_key: str | None = None) -> Response:
    users = users_service.list_users(session=session)
    return render(request, "users.html", user=user, active="users", status_code=status_code,
                  users=users, names={u.id: u.name for u in users},
                  keys=users_service.list_api_keys(session=session), roles=list(Role),
                  error=error, new_key=new_key)


@router.get("/users")
def users(request: Request, session: SessionDep, user: AdminUser) -> Response:
    return _users_page(request, session, user)


@router.post("/users")
def create_user(request: Request, session: SessionDep, user: AdminUser,
                email: Annotated[str, Form()], name: Annotated[str, Form()],
                password: Annotated[str, Form()], role: Annotated[str, Form()]) -> Response:
    try:
        created = users_service.create_user(session=session, email=email, name=name,
                                            password=password, role=role)
    except (ValidationError, ConflictError) as exc:
        session.rollback()
        return _users_page(request, session, user, status_code=400, error=str(exc))
    session.commit()
    flash(request, f"User {created.email} created with role {created.role}.")
    return RedirectResponse("/admin/users", status_code=303)


def _change_user(request: Request, session: SessionDep, admin: StaffUser,
                 change: Callable[[], StaffUser], done: str) -> Response:
    """Apply ``change``; show a refusal on the page, else flash ``done`` and redirect."""
    try:
        changed = change()
    except (ValidationError, ConflictError) as exc:
        session.rollback()
        status = 409 if isinstance(exc, ConflictError) else 400
        return _users_page(request, session, admin, status_code=status, error=str(exc))
    session.commit()
    flash(request, done.format(email=changed.email, role=changed.role))
    # An admin who ended their own session lands on the sign-in form from here.
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{user_id:int}/role")
def change_role(request: Request, session: SessionDep, user: AdminUser, user_id: IdPath,
                role: Annotated[str, Form()]) -> Response:
    return _change_user(request, session, user, lambda: users_service.update_user(
        session=session, user_id=user_id, role=role),
        "{email} is now {role}; their sessions ended.")


@router.post("/users/{user_id:int}/deactivate")
def deactivate(request: Request, session: SessionDep, user: AdminUser,
               user_id: IdPath) -> Response:
    return _change_user(request, session, user, lambda: users_service.update_user(
        session=session, user_id=user_id, is_active=False),
        "{email} deactivated: signed out, API keys stopped.")


@router.post("/users/{user_id:int}/reactivate")
def reactivate(request: Request, session: SessionDep, user: AdminUser,
               user_id: IdPath) -> Response:
    return _change_user(request, session, user, lambda: users_service.update_user(
        session=session, user_id=user_id, is_active=True), "{email} reactivated.")


@router.post("/users/{user_id:int}/password")
def reset_password(request: Request, session: SessionDep, user: AdminUser, user_id: IdPath,
                   password: Annotated[str, Form()]) -> Response:
    return _change_user(request, session, user, lambda: users_service.set_password(
        session=session, user_id=user_id, password=password),
        "Password of {email} set; their sessions ended.")


@router.post("/users/{user_id:int}/sign-out")
def sign_out(request: Request, session: SessionDep, user: AdminUser,
             user_id: IdPath) -> Response:
    target = users_service.get_user(session=session, user_id=user_id)
    ended = staff_sessions.end_user_sessions(session=session, user_id=user_id)
    session.commit()
    flash(request, f"{ended} session(s) of {target.email} ended.")
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/keys")
def create_key(request: Request, session: SessionDep, user: AdminUser,
               name: Annotated[str, Form()], owner_id: Annotated[int, Form()],
               scopes: Annotated[str, Form()] = "*") -> Response:
    try:
        _, key = users_service.create_api_key(
            session=session, settings=settings_of(request.app.state), user_id=owner_id, name=name,
            scopes=[s for s in scopes.replace(",", " ").split() if s] or ["*"],
        )
    except ValidationError as exc:
        session.rollback()
        return _users_page(request, session, user, status_code=400, error=str(exc))
    session.commit()
    # Rendered directly, never redirected: the key must not travel through the session.
    return _users_page(request, session, user, status_code=201, new_key=key)


@router.post("/keys/{api_key_id:int}/revoke")
def revoke_key(request: Request, session: SessionDep, user: AdminUser,
               api_key_id: IdPath) -> Response:
    row = users_service.revoke_api_key(session=session, api_key_id=api_key_id)
    session.commit()
    flash(request, f"API key {row.prefix} revoked.")
    return RedirectResponse("/admin/users", status_code=303)
