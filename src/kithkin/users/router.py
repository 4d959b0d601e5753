"""Sign-in (``/auth``) and the administration of staff users and API keys (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from kithkin.api.deps import CurrentUser, SessionDep, SettingsDep, require_permission
from kithkin.api.params import IdPath, IdQuery
from kithkin.auth import sessions
from kithkin.auth.csrf import csrf_token
from kithkin.auth.ratelimit import sign_in_attempt
from kithkin.auth.roles import Access, Area
from kithkin.errors import CurrentPasswordError
from kithkin.users import service as user_service
from kithkin.users import sessions as staff_sessions
from kithkin.users.models import StaffUser
from kithkin.users.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    LoginRequest,
    PasswordChange,
    PasswordReset,
    SessionsEnded,
    UserCreate,
    UserRead,
    UserUpdate,
)

auth_router = APIRouter(prefix="/auth", tags=["auth"])
router = APIRouter(tags=["users"])

UserAdmin = Annotated[StaffUser, Depends(require_permission(Area.USERS, Access.ADMIN))]


@auth_router.post("/login", response_model=UserRead)
def login(payload: LoginRequest, request: Request, session: SessionDep) -> StaffUser:
    """Check email and password, start a server-side session and set its cookie
    (failures back off: docs/security.md)."""
    with sign_in_attempt(request, account=payload.email):
        user = user_service.authenticate(session=session, email=payload.email,
                                         password=payload.password)
    sessions.log_in(request, session, user)
    session.commit()
    return user


@auth_router.post("/logout", status_code=204)
def logout(request: Request, session: SessionDep) -> Response:
    """End the cookie's session on the server (a copy of the cookie no longer works)."""
    sessions.log_out(request, session)
    session.commit()
    return Response(status_code=204)


@auth_router.get("/me", response_model=UserRead)
def me(user: CurrentUser) -> StaffUser:
    return user


@auth_router.get("/csrf")
def csrf(request: Request, user: CurrentUser) -> dict[str, str]:
    """The session's CSRF token, for scripts that post forms (header X-CSRF-Token)."""
    return {"csrf_token": csrf_token(request)}


@auth_router.post("/password", status_code=204)
def change_password(payload: PasswordChange, request: Request, session: SessionDep,
                    user: CurrentUser) -> Response:
    """Change your own password (the current one is required). Every sign-in of yours
    ends; a browser that asked gets a fresh session."""
    with sign_in_attempt(request, account=user.email, failure=CurrentPasswordError):
        user_service.change_own_password(session=session, user=user,
                                         current_password=payload.current_password,
                                         new_password=payload.new_password)
    if getattr(request.state, "staff_session", None) is not None:
        sessions.log_in(request, session, user)
    session.commit()
    return Response(status_code=204)


@router.get("/users", response_model=list[UserRead])
def list_users(session: SessionDep, _: UserAdmin) -> list[StaffUser]:
    return list(user_service.list_users(session=session))


@router.post("/users", response_model=UserRead, status_code=201)
def create_user(payload: UserCreate, session: SessionDep, _: UserAdmin) -> StaffUser:
    user = user_service.create_user(session=session, email=payload.email, name=payload.name,
                                    password=payload.password, role=payload.role)
    session.commit()
    return user


@router.get("/users/{user_id:int}", response_model=UserRead)
def get_user(user_id: IdPath, session: SessionDep, _: UserAdmin) -> StaffUser:
    return user_service.get_user(session=session, user_id=user_id)


@router.patch("/users/{user_id:int}", response_model=UserRead)
def update_user(user_id: IdPath, payload: UserUpdate, session: SessionDep,
                _: UserAdmin) -> StaffUser:
    """Rename, change the role, deactivate or reactivate; a role change or deactivation
    ends the user's sign-ins (their API keys follow the new role, or stop)."""
    user = user_service.update_user(session=session, user_id=user_id, name=payload.name,
                                    role=payload.role, is_active=payload.is_active)
    session.commit()
    return user


@router.post("/users/{user_id:int}/password", response_model=UserRead)
def reset_password(user_id: IdPath, payload: PasswordReset, session: SessionDep,
                   _: UserAdmin) -> StaffUser:
    """Set a user's password and end all their sign-ins."""
    user = user_service.set_password(session=session, user_id=user_id,
                                     password=payload.password)
    session.commit()
    return user


@router.post("/users/{user_id:int}/sessions/end", response_model=SessionsEnded)
def end_sessions(user_id: IdPath, session: SessionDep, _: UserAdmin) -> SessionsEnded:
    """Sign a user out everywhere (their API keys are not touched)."""
    user_service.get_user(session=session, user_id=user_id)
    ended = staff_sessions.end_user_sessions(session=session, user_id=user_id)
    session.commit()
    return SessionsEnded(ended=ended)


@router.get("/api-keys", response_model=list[ApiKeyRead])
def list_api_keys(session: SessionDep, _: UserAdmin,
                  user_id: IdQuery = None) -> list[ApiKeyRead]:
    rows = user_service.list_api_keys(session=session, user_id=user_id)
    return [ApiKeyRead.model_validate(row) for row in rows]


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201)
def create_api_key(payload: ApiKeyCreate, session: SessionDep, settings: SettingsDep,
                   admin: UserAdmin) -> ApiKeyCreated:
    """Create a key; the response is the only time the whole key is shown."""
    row, key = user_service.create_api_key(
        session=session, settings=settings, user_id=payload.user_id or admin.id, name=payload.name,
        scopes=payload.scopes,
    )
    session.commit()
    return ApiKeyCreated.model_validate({**ApiKeyRead.model_validate(row).model_dump(),
                                         "key": key})


@router.post("/api-keys/{api_key_id:int}/revoke", response_model=ApiKeyRead)
def revoke_api_key(api_key_id: IdPath, session: SessionDep, _: UserAdmin) -> ApiKeyRead:
    row = user_service.revoke_api_key(session=session, api_key_id=api_key_id)
    session.commit()
    return ApiKeyRead.model_validate(row)
