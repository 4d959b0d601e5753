"""Server-side browser sessions: a row per sign-in that logout, a password or role change
and deactivation end at once (a signed cookie alone stays valid until it expires).

The token has 256 random bits, so a plain SHA-256 is enough to store it: nothing can be
guessed from the digest, and no server secret is needed to look it up.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from kithkin.database.base import utcnow
from kithkin.errors import AuthenticationError
from kithkin.users.models import StaffSession, StaffUser

# Like an API key's last_used_at: stamping every request would turn reads into writes.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
KEEP_ENDED = timedelta(days=30)
_IP_LENGTH, _USER_AGENT_LENGTH = 64, 300


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(*, session: Session, user: StaffUser, lifetime: timedelta,
                  ip: str | None = None,
                  user_agent: str | None = None) -> tuple[StaffSession, str]:
    """Record a sign-in that lasts ``lifetime`` (the app's ``session_lifetime_hours``);
    returns the row and the token for the cookie (not stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = StaffSession(
        user_id=user.id, token_hash=hash_token(token), created_at=now, last_seen_at=now,
        expires_at=now + lifetime,
        ip=ip[:_IP_LENGTH] if ip else None,
        user_agent=user_agent[:_USER_AGENT_LENGTH] if user_agent else None,
    )
    session.add(row)
    # Ended sign-ins stay a while as a record of who signed in from where, then go.
    session.execute(delete(StaffSession).where(StaffSession.user_id == user.id,
                                               StaffSession.expires_at < now - KEEP_ENDED))
    session.flush()
    return row, token


# Built once: every request signed in by cookie runs it.
_SESSION_AND_USER = (select(StaffSession, StaffUser)
                     .join(StaffUser, StaffUser.id == StaffSession.user_id)
                     .where(StaffSession.token_hash == bindparam("token_hash")))


def authenticate_session(*, session: Session, token: str,
                         idle: timedelta) -> tuple[StaffUser, StaffSession]:
    """The active user and live session for a cookie's token; AuthenticationError when
    the session is unknown, revoked, past its lifetime or idle for ``idle`` (the app's
    ``session_idle_minutes``).

    Stamps ``last_seen_at`` (at most once per LAST_SEEN_RESOLUTION) without flushing:
    the caller's commit writes it.
    """
    found = session.execute(_SESSION_AND_USER, {"token_hash": hash_token(token)}).one_or_none()
    if found is None:
        raise AuthenticationError("sign in again: the session is not known")
    row, user = found
    now = utcnow()
    if row.revoked_at is not None:
        raise AuthenticationError("sign in again: the session was ended")
    if now >= row.expires_at or now - row.last_seen_at >= idle:
        raise AuthenticationError("sign in again: the session expired")
    if not user.is_active:
        raise AuthenticationError("sign in again: the account is deactivated")
    if now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
        row.last_seen_at = now
    return user, row


def end_session(*, session: Session, token: str) -> bool:
    """Revoke the session of ``token``; False when there was no live one."""
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.token_hash == hash_token(token), StaffSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


def end_user_sessions(*, session: Session, user_id: int) -> int:
    """Revoke every live session of a user (sign out everywhere); returns how many."""
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0))
