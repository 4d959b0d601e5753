"""API key format and hashing.

A key reads ``kk_<8 hex>.<43 url-safe chars>``: the part before the dot is the stored,
unique *prefix* used to find the row and to show in listings; the rest is 256 random
bits. Because the secret has full entropy, a slow password hash would add nothing but
latency on every request; an HMAC-SHA256 keyed with the server secret is enough and makes
a stolen database useless without the server key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_MARKER = "kk_"
PREFIX_HEX_CHARS = 8


def generate_key() -> tuple[str, str]:
    """Return ``(prefix, full_key)`` for a new API key."""
    prefix = KEY_MARKER + secrets.token_hex(PREFIX_HEX_CHARS // 2)
    return prefix, f"{prefix}.{secrets.token_urlsafe(32)}"


def split_prefix(key: str) -> str | None:
    """The prefix of a well-formed key, or None for anything that cannot be a key."""
    prefix, dot, secret = key.partition(".")
    if not dot or not prefix.startswith(KEY_MARKER) or len(secret) < 32:
        return None
    if len(prefix) != len(KEY_MARKER) + PREFIX_HEX_CHARS:
        return None
    return prefix


def hash_key(key: str, *, server_secret: str) -> str:
    return hmac.new(server_secret.encode(), key.encode(), hashlib.sha256).hexdigest()


def key_matches(key: str, key_hash: str, *, server_secret: str) -> bool:
    return hmac.compare_digest(hash_key(key, server_secret=server_secret), key_hash)
