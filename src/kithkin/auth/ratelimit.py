"""In-process sliding-window limit on login attempts, per client IP and per email.

Slows online password guessing to a crawl (5 tries a minute by default) without a
shared store; a multi-process deployment gets one window per process, which still bounds
guessing. Limits apply to attempts, successful or not, so probing is never free.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from kithkin.errors import RateLimitedError


class SlidingWindowLimiter:
    """At most ``limit`` hits per key within any ``window_seconds`` span."""

    def __init__(self, *, limit: int, window_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self._clock = limit, window_seconds, clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Record one attempt for ``key``; raise RateLimitedError when over the limit."""
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                retry_after = max(1, math.ceil(hits[0] + self.window - now))
                raise RateLimitedError(
                    "too many login attempts; try again later", retry_after=retry_after
                )
            hits.append(now)
            if len(self._hits) > 100_000:  # bound memory under a spray of distinct keys
                self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
            del self._hits[key]

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


class LoginRateLimiter:
    """Two windows: one per client IP and one per (lower-cased) email."""

    def __init__(self, *, limit: int = 5, window_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.by_ip = SlidingWindowLimiter(limit=limit, window_seconds=window_seconds, clock=clock)
        self.by_email = SlidingWindowLimiter(
            limit=limit, window_seconds=window_seconds, clock=clock
        )

    def check(self, *, ip: str, email: str) -> None:
        self.by_ip.hit(ip)
        self.by_email.hit(email.strip().lower())

    def reset(self) -> None:
        self.by_ip.reset()
        self.by_email.reset()
