"""Password hashing with Argon2id (RFC 9106), the memory-hard winner of the PHC.

Passwords are low-entropy, so the hash must be slow and memory-hungry to make offline
guessing expensive; argon2-cffi's defaults follow the RFC's second recommended profile.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 8


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; never raises for a wrong password or bad hash."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's defaults."""
    return _hasher().check_needs_rehash(password_hash)


# A valid hash to verify against when the email is unknown, so a login for a missing
# user takes as long as one for an existing user (no user enumeration by timing).
@cache
def dummy_hash() -> str:
    return hash_password("kithkin-timing-equaliser")
