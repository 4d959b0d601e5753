"""Staff users and their API keys: creation, authentication, revocation, and the changes
(role, password, deactivation) that end a user's sign-ins.

Passwords are stored as Argon2id hashes and API keys as HMAC-SHA256 digests keyed with
the server secret (see :mod:`kithkin.auth.api_keys` for why each).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from kithkin.auth import api_keys, passwords
from kithkin.auth.roles import validate_scopes
from kithkin.auth.secret import signing_secret
from kithkin.config import Settings
from kithkin.database.base import utcnow
from kithkin.database.core import get_or_raise
from kithkin.errors import (
    AuthenticationError,
    ConflictError,
    CurrentPasswordError,
    NotFoundError,
    ValidationError,
)
from kithkin.users.models import ApiKey, Role, StaffUser
from kithkin.users.sessions import end_user_sessions

# Writing last_used_at on every request would turn each read into a write; once a
# minute is precise enough to spot unused keys.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _normalise_email(email: str) -> str:
    return email.strip().lower()


def _checked_password(password: str, field: str = "password") -> str:
    if len(password) < passwords.MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"{field}: must be at least {passwords.MIN_PASSWORD_LENGTH} characters"
        )
    return password


def _checked_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError as exc:
        raise ValidationError(f"role: {role!r} is not one of {[r.value for r in Role]}") from exc


def create_user(*, session: Session, email: str, name: str, password: str,
                role: Role | str) -> StaffUser:
    """Add a staff user; raises ConflictError when the email is taken."""
    email = _normalise_email(email)
    _checked_password(password)
    role = _checked_role(role)
    if session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise ConflictError(f"a user with email {email} already exists")
    user = StaffUser(email=email, name=name, role=role.value,
                     password_hash=passwords.hash_password(password))
    session.add(user)
    session.flush()
    return user


def get_user(*, session: Session, user_id: int) -> StaffUser:
    user = get_or_raise(session, StaffUser, user_id, "user")
    return user


def get_user_by_email(*, session: Session, email: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.email == _normalise_email(email)))
    if user is None:
        raise NotFoundError(f"no user with email {email}")
    return user


def list_users(*, session: Session) -> Sequence[StaffUser]:
    return session.scalars(select(StaffUser).order_by(StaffUser.id)).all()


def _keep_an_active_admin(session: Session, user: StaffUser) -> None:
    """Refuse a change that would leave nobody able to administer users."""
    others = session.scalar(
        select(func.count()).select_from(StaffUser).where(
            StaffUser.role == Role.ADMIN.value, StaffUser.is_active.is_(True),
            StaffUser.id != user.id))
    if user.role == Role.ADMIN.value and user.is_active and not others:
        raise ConflictError(f"{user.email} is the last active admin; make another admin first")


def update_user(*, session: Session, user_id: int, name: str | None = None,
                role: Role | str | None = None, is_active: bool | None = None) -> StaffUser:
    """Rename, change the role of, deactivate or reactivate a user (None: unchanged).

    A new role or a deactivation ends all the user's sign-ins, so nobody keeps rights
    they lost; API keys follow the user's current role and active flag on every request.
    """
    user = get_user(session=session, user_id=user_id)
    new_role = None if role is None else _checked_role(role).value
    role_changed = new_role is not None and new_role != user.role
    deactivated = is_active is False and user.is_active
    if (role_changed and user.role == Role.ADMIN.value) or deactivated:
        _keep_an_active_admin(session, user)
    if name is not None:
        if not name.strip():
            raise ValidationError("name: must not be empty")
        user.name = name.strip()
    if new_role is not None:
        user.role = new_role
    if is_active is not None:
        user.is_active = is_active
    if role_changed or deactivated:
        end_user_sessions(session=session, user_id=user.id)
    session.flush()
    return user


def set_password(*, session: Session, user_id: int, password: str) -> StaffUser:
    """Set a new password (an admin's reset) and end all the user's sign-ins."""
    user = get_user(session=session, user_id=user_id)
    user.password_hash = passwords.hash_password(_checked_password(password))
    end_user_sessions(session=session, user_id=user.id)
    session.flush()
    return user


def change_own_password(*, session: Session, user: StaffUser, current_password: str,
                        new_password: str) -> StaffUser:
    """A user's own change: proves the current password first, then ends every sign-in
    of the user (the caller starts a fresh one for the browser it came from)."""
    if not passwords.verify_password(user.password_hash, current_password):
        raise CurrentPasswordError("current_password: does not match the password on file")
    _checked_password(new_password, "new_password")
    return set_password(session=session, user_id=user.id, password=new_password)


def authenticate(*, session: Session, email: str, password: str) -> StaffUser:
    """The active user with this email and password; AuthenticationError otherwise.

    Unknown emails still pay for one hash verification, so response time does not reveal
    which emails exist.
    """
    user = session.scalar(select(StaffUser).where(StaffUser.email == _normalise_email(email)))
    if user is None:
        passwords.verify_password(passwords.dummy_hash(), password)
        raise AuthenticationError("wrong email or password")
    if not passwords.verify_password(user.password_hash, password) or not user.is_active:
        raise AuthenticationError("wrong email or password")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = utcnow()
    session.flush()
    return user


def create_api_key(*, session: Session, settings: Settings, user_id: int, name: str,
                   scopes: Sequence[str]) -> tuple[ApiKey, str]:
    """Create a key for ``user_id``; returns the row and the plaintext key (shown once).
    The digest is keyed with the server secret of ``settings``."""
    get_user(session=session, user_id=user_id)
    try:
        checked = validate_scopes(scopes)
    except ValueError as exc:
        raise ValidationError(f"scopes: {exc}") from exc
    prefix, key = api_keys.generate_key()
    row = ApiKey(user_id=user_id, name=name, prefix=prefix, scopes=checked,
                 key_hash=api_keys.hash_key(key, server_secret=signing_secret(settings)))
    session.add(row)
    session.flush()
    return row, key


def get_api_key(*, session: Session, api_key_id: int) -> ApiKey:
    row = get_or_raise(session, ApiKey, api_key_id, "API key")
    return row


def revoke_api_key(*, session: Session, api_key_id: int) -> ApiKey:
    """Revoke a key for good (idempotent: revoking twice keeps the first time)."""
    row = get_api_key(session=session, api_key_id=api_key_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return row


def list_api_keys(*, session: Session, user_id: int | None = None) -> Sequence[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    return session.scalars(query).all()


# Built once: every API request runs it.
_KEY_AND_OWNER = (select(ApiKey, StaffUser).join(StaffUser, StaffUser.id == ApiKey.user_id)
                  .where(ApiKey.prefix == bindparam("prefix")))


def authenticate_api_key(*, session: Session, settings: Settings,
                         key: str) -> tuple[StaffUser, ApiKey]:
    """The active owner and the live key for a presented key; AuthenticationError else.

    Stamps ``last_used_at`` (at most once per LAST_USED_RESOLUTION) without flushing:
    the caller's commit writes it.
    """
    prefix = api_keys.split_prefix(key)
    found = None if prefix is None else session.execute(
        _KEY_AND_OWNER, {"prefix": prefix}).one_or_none()
    if found is None:
        raise AuthenticationError("invalid or revoked API key")
    row, user = found
    if row.revoked_at is not None or not api_keys.key_matches(
            key, row.key_hash, server_secret=signing_secret(settings)):
        raise AuthenticationError("invalid or revoked API key")
    if not user.is_active:
        raise AuthenticationError("the API key's owner is inactive")
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
    return user, row
