"""Webhook signatures: HMAC-SHA256 over ``"<timestamp>.<body>"``, as Stripe does.

The header ``Kithkin-Signature: t=<unix seconds>,v1=<hex digest>`` lets a receiver check
both that the body came from us (the secret) and that it is fresh (the timestamp is
signed too, so an old request replayed later fails the tolerance check).
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Kithkin-Signature"
MIN_SECRET_CHARS = 32
DEFAULT_TOLERANCE_SECONDS = 300


def sign(*, secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body,
                      hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(*, secret: str, body: bytes, header: str,
           tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
           now: float | None = None) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` within the tolerance (for
    receivers written in Python; the algorithm is in docs/outbox.md for others)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret=secret, body=body, timestamp=timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
