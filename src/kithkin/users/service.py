"""Staff users and their API keys: creation, authentication, revocation.

Passwords are stored as Argon2id hashes and API keys as HMAC-SHA256 digests keyed with
the server secret (see :mod:`kithkin.auth.api_keys` for why each).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from kithkin.auth import api_keys, passwords
from kithkin.auth.roles import validate_scopes
from kithkin.config import get_settings
from kithkin.database.base import utcnow
from kithkin.database.core import get_or_raise
from kithkin.errors import AuthenticationError, ConflictError, NotFoundError, ValidationError
from kithkin.users.models import ApiKey, Role, StaffUser

# Writing last_used_at on every request would turn each read into a write; once a
# minute is precise enough to spot unused keys.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(*, session: Session, email: str, name: str, password: str,
                role: Role | str) -> StaffUser:
    """Add a staff user; raises ConflictError when the email is taken."""
    email = _normalise_email(email)
    if len(password) < passwords.MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"password: must be at least {passwords.MIN_PASSWORD_LENGTH} characters"
        )
    try:
        role = Role(role)
    except ValueError as exc:
        raise ValidationError(f"role: {role!r} is not one of {[r.value for r in Role]}") from exc
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


def get_active_user(*, session: Session, user_id: int) -> StaffUser | None:
    """The user when it exists and is active, else None (a stale session cookie)."""
    user = session.get(StaffUser, user_id)
    return user if user is not None and user.is_active else None


def list_users(*, session: Session) -> Sequence[StaffUser]:
    return session.scalars(select(StaffUser).order_by(StaffUser.id)).all()


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


def _server_secret() -> str:
    return get_settings().secret_key.get_secret_value()


def create_api_key(*, session: Session, user_id: int, name: str,
                   scopes: Sequence[str]) -> tuple[ApiKey, str]:
    """Create a key for ``user_id``; returns the row and the plaintext key (shown once)."""
    get_user(session=session, user_id=user_id)
    try:
        checked = validate_scopes(scopes)
    except ValueError as exc:
        raise ValidationError(f"scopes: {exc}") from exc
    prefix, key = api_keys.generate_key()
    row = ApiKey(user_id=user_id, name=name, prefix=prefix, scopes=checked,
                 key_hash=api_keys.hash_key(key, server_secret=_server_secret()))
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


def authenticate_api_key(*, session: Session, key: str) -> tuple[StaffUser, ApiKey]:
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
            key, row.key_hash, server_secret=_server_secret()):
        raise AuthenticationError("invalid or revoked API key")
    if not user.is_active:
        raise AuthenticationError("the API key's owner is inactive")
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
    return user, row
