"""Login throttling: exponential backoff on failed sign-ins, keyed so that an attacker
slows himself down without locking the real user out.

Three counters of *failed* attempts (a refused attempt is not counted, so hammering a
blocked key does not extend the block):

- per (account, address): the main brake on guessing one password from one place; the
  real user, at another address, is not affected;
- per address, over every account: stops one address spraying many accounts;
- per account, over every address: stops a botnet guessing one password from many
  addresses. It never applies to an address that has signed in to that account before
  (in this process), so the real user keeps working from a known address during such an
  attack; it does apply to the user at a new address while the attack runs.

Past each counter's free failures, every further failure blocks the key for
``base_delay * 2**n`` seconds (capped at ``max_delay``). A success from an address
clears its own counters; counters idle for ``forget_after`` seconds are forgotten, and
an account's known addresses after ``remember_addresses_for`` seconds.

State is in process memory: ``kithkin serve --workers N`` keeps N independent sets, so
an attacker gets at most N times the budget, still with exponential backoff. The client
address is ``request.client.host``, which names the real client only when forwarded
headers are trusted from configured proxies (:mod:`kithkin.api.proxies`).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from starlette.requests import Request

from kithkin.errors import AuthenticationError, RateLimitedError

_MAX_KEYS = 100_000  # bounds memory under a spray of distinct addresses or accounts


@dataclass
class _Failures:
    count: int = 0
    blocked_until: float = 0.0
    last: float = 0.0


class BackoffCounter:
    """Failures per key; past ``free`` failures each one blocks the key, doubling."""

    def __init__(self, *, free: int, base_delay: float, max_delay: float,
                 forget_after: float) -> None:
        self.free, self.base_delay, self.max_delay = free, base_delay, max_delay
        self.forget_after = forget_after
        self._keys: dict[str, _Failures] = {}

    def blocked_for(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again (0: it may now)."""
        state = self._current(key, now)
        return max(0.0, state.blocked_until - now) if state else 0.0

    def fail(self, key: str, now: float) -> None:
        state = self._current(key, now) or self._keys.setdefault(key, _Failures())
        state.count += 1
        state.last = now
        if state.count >= self.free:
            delay = self.base_delay * 2.0 ** min(state.count - self.free, 32)
            state.blocked_until = now + min(self.max_delay, delay)
        if len(self._keys) > _MAX_KEYS:
            self._forget_idle(now)
            while len(self._keys) > _MAX_KEYS:  # still full: drop the oldest keys
                del self._keys[next(iter(self._keys))]

    def clear(self, key: str) -> None:
        self._keys.pop(key, None)

    def _current(self, key: str, now: float) -> _Failures | None:
        state = self._keys.get(key)
        if state is not None and now - state.last > self.forget_after \
                and now >= state.blocked_until:
            del self._keys[key]
            return None
        return state

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, s in self._keys.items()
                    if now - s.last > self.forget_after and now >= s.blocked_until]:
            del self._keys[key]


class LoginRateLimiter:
    """The three backoff counters and the addresses each account signed in from.

    Use :meth:`attempt` around the password check: it refuses a blocked attempt before
    the (costly) hash is computed and records the outcome.
    """

    def __init__(self, *, free_failures: int = 5, address_free_failures: int = 10,
                 account_free_failures: int = 20, base_delay: float = 1.0,
                 max_delay: float = 900.0, forget_after: float = 24 * 3600.0,
                 remember_addresses_for: float = 30 * 24 * 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        def counter(free: int) -> BackoffCounter:
            return BackoffCounter(free=free, base_delay=base_delay, max_delay=max_delay,
                                  forget_after=forget_after)

        self.by_account_address = counter(free_failures)
        self.by_address = counter(address_free_failures)
        self.by_account = counter(account_free_failures)
        self.remember_addresses_for = remember_addresses_for
        self._known: dict[str, dict[str, float]] = {}  # account -> address -> last success
        self._clock = clock
        self._lock = threading.Lock()

    def check(self, *, address: str, account: str) -> None:
        """Raise RateLimitedError (with Retry-After) when this attempt is blocked."""
        account = _account_key(account)
        now = self._clock()
        with self._lock:
            waits = [self.by_account_address.blocked_for(f"{account}\n{address}", now),
                     self.by_address.blocked_for(address, now)]
            if not self._is_known(account, address, now):
                waits.append(self.by_account.blocked_for(account, now))
        wait = max(waits)
        if wait > 0:
            raise RateLimitedError("too many failed sign-ins; try again later",
                                   retry_after=max(1, math.ceil(wait)))

    def failed(self, *, address: str, account: str) -> None:
        account = _account_key(account)
        now = self._clock()
        with self._lock:
            self.by_account_address.fail(f"{account}\n{address}", now)
            self.by_address.fail(address, now)
            self.by_account.fail(account, now)

    def succeeded(self, *, address: str, account: str) -> None:
        """Clear the address's counters and remember it as one the account uses."""
        account = _account_key(account)
        now = self._clock()
        with self._lock:
            self.by_account_address.clear(f"{account}\n{address}")
            self.by_address.clear(address)
            known = self._known.setdefault(account, {})
            known[address] = now
            if len(known) > 50:  # keep the most recent addresses only
                del known[min(known, key=known.__getitem__)]
            if len(self._known) > _MAX_KEYS:
                self._known.pop(next(iter(self._known)))

    @contextmanager
    def attempt(self, *, address: str, account: str,
                failure: type[Exception] = AuthenticationError) -> Iterator[None]:
        """Check, then record the password check run inside: ``failure`` raised is a
        failed attempt, leaving without error a success."""
        self.check(address=address, account=account)
        try:
            yield
        except failure:
            self.failed(address=address, account=account)
            raise
        self.succeeded(address=address, account=account)

    def _is_known(self, account: str, address: str, now: float) -> bool:
        last = self._known.get(account, {}).get(address)
        return last is not None and now - last <= self.remember_addresses_for


def _account_key(email: str) -> str:
    return email.strip().lower()


def sign_in_attempt(request: Request, *, account: str,
                    failure: type[Exception] = AuthenticationError
                    ) -> contextlib.AbstractContextManager[None]:
    """The app's limiter around one password check by this request's client (the address
    the trusted-proxy middleware settled on)."""
    limiter: LoginRateLimiter = request.app.state.login_limiter
    address = request.client.host if request.client else "unknown"
    return limiter.attempt(address=address, account=account, failure=failure)
