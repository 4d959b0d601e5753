"""Sign-in (``/auth``) and the administration of staff users and API keys (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from kithkin.api.deps import CurrentUser, SessionDep, require_permission
from kithkin.api.params import IdPath, IdQuery
from kithkin.auth import sessions
from kithkin.auth.csrf import csrf_token
from kithkin.auth.ratelimit import LoginRateLimiter
from kithkin.auth.roles import Access, Area
from kithkin.users import service as user_service
from kithkin.users.models import StaffUser
from kithkin.users.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    LoginRequest,
    UserCreate,
    UserRead,
)

auth_router = APIRouter(prefix="/auth", tags=["auth"])
router = APIRouter(tags=["users"])

UserAdmin = Annotated[StaffUser, Depends(require_permission(Area.USERS, Access.ADMIN))]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def login_limiter(request: Request) -> LoginRateLimiter:
    limiter: LoginRateLimiter = request.app.state.login_limiter
    return limiter


@auth_router.post("/login", response_model=UserRead)
def login(payload: LoginRequest, request: Request, session: SessionDep) -> StaffUser:
    """Check email and password and set the signed session cookie (5 tries a minute)."""
    login_limiter(request).check(ip=client_ip(request), email=payload.email)
    user = user_service.authenticate(session=session, email=payload.email,
                                     password=payload.password)
    session.commit()
    sessions.log_in(request, user)
    return user


@auth_router.post("/logout", status_code=204)
def logout(request: Request) -> Response:
    sessions.log_out(request)
    return Response(status_code=204)


@auth_router.get("/me", response_model=UserRead)
def me(user: CurrentUser) -> StaffUser:
    return user


@auth_router.get("/csrf")
def csrf(request: Request, user: CurrentUser) -> dict[str, str]:
    """The session's CSRF token, for scripts that post forms (header X-CSRF-Token)."""
    return {"csrf_token": csrf_token(request)}


@router.get("/users", response_model=list[UserRead])
def list_users(session: SessionDep, _: UserAdmin) -> list[StaffUser]:
    return list(user_service.list_users(session=session))


@router.post("/users", response_model=UserRead, status_code=201)
def create_user(payload: UserCreate, session: SessionDep, _: UserAdmin) -> StaffUser:
    user = user_service.create_user(session=session, email=payload.email, name=payload.name,
                                    password=payload.password, role=payload.role)
    session.commit()
    return user


@router.get("/api-keys", response_model=list[ApiKeyRead])
def list_api_keys(session: SessionDep, _: UserAdmin,
                  user_id: IdQuery = None) -> list[ApiKeyRead]:
    rows = user_service.list_api_keys(session=session, user_id=user_id)
    return [ApiKeyRead.model_validate(row) for row in rows]


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201)
def create_api_key(payload: ApiKeyCreate, session: SessionDep,
                   admin: UserAdmin) -> ApiKeyCreated:
    """Create a key; the response is the only time the whole key is shown."""
    row, key = user_service.create_api_key(
        session=session, user_id=payload.user_id or admin.id, name=payload.name,
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
