"""The sign-in throttle: failures back off per account and address, attackers cannot
lock the real user out, and forwarded addresses are believed only from trusted proxies."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine

from kithkin.api import serving
from kithkin.api.app import create_app
from kithkin.auth.ratelimit import LoginRateLimiter
from kithkin.config import Settings, get_settings
from kithkin.errors import AuthenticationError, RateLimitedError
from kithkin.users.models import Role
from tests.api.conftest import PASSWORD, MakeUser

ADMIN = "admin@example.com"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _fail(limiter: LoginRateLimiter, address: str, account: str = ADMIN) -> None:
    with pytest.raises(AuthenticationError), limiter.attempt(address=address,
                                                            account=account):
        raise AuthenticationError("wrong password")


def _blocked_for(limiter: LoginRateLimiter, address: str, account: str = ADMIN) -> int:
    try:
        limiter.check(address=address, account=account)
    except RateLimitedError as exc:
        return exc.retry_after
    return 0


def test_failures_back_off_exponentially_and_refusals_do_not_extend_the_block() -> None:
    clock = Clock()
    limiter = LoginRateLimiter(free_failures=3, base_delay=2, max_delay=20, clock=clock)
    for _ in range(2):
        _fail(limiter, "198.51.100.1")
    assert _blocked_for(limiter, "198.51.100.1") == 0
    delays = []
    for _ in range(5):
        _fail(limiter, "198.51.100.1")
        delays.append(_blocked_for(limiter, "198.51.100.1"))
        for _ in range(10):  # hammering while blocked changes nothing
            assert _blocked_for(limiter, "198.51.100.1") == delays[-1]
        clock.now += delays[-1]
    assert delays == [2, 4, 8, 16, 20]  # doubling, capped at max_delay


def test_a_success_clears_the_address_and_idle_counters_are_forgotten() -> None:
    clock = Clock()
    limiter = LoginRateLimiter(free_failures=2, forget_after=60, clock=clock)
    _fail(limiter, "198.51.100.1")
    with limiter.attempt(address="198.51.100.1", account=ADMIN):
        pass  # the password was right
    _fail(limiter, "198.51.100.1")
    assert _blocked_for(limiter, "198.51.100.1") == 0  # one failure since the success
    _fail(limiter, "198.51.100.2")
    clock.now += 61
    _fail(limiter, "198.51.100.2")
    assert _blocked_for(limiter, "198.51.100.2") == 0  # the first one was forgotten


@pytest.fixture
def frozen() -> Clock:
    return Clock()


@pytest.fixture
def throttled_app(sqlite_engine: Engine, make_user: MakeUser, frozen: Clock) -> FastAPI:
    make_user(Role.ADMIN)
    return create_app(include_dashboard=False, login_limiter=LoginRateLimiter(clock=frozen))


def _login(app: FastAPI, address: str, password: str = PASSWORD, email: str = ADMIN,
           headers: dict[str, str] | None = None) -> int:
    with TestClient(app, client=(address, 50000)) as client:
        response = client.post("/api/v1/auth/login", headers=headers,
                               json={"email": email, "password": password})
        status: int = response.status_code
        return status


def test_failures_from_elsewhere_never_lock_the_real_user_out(throttled_app: FastAPI) -> None:
    attacker, admin = "203.0.113.66", "198.51.100.7"
    statuses = [_login(throttled_app, attacker, "guess") for _ in range(30)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}  # time stands still
    assert _login(throttled_app, attacker) == 429  # even with the right password
    assert _login(throttled_app, admin) == 200  # the real admin, at once


def test_one_address_spraying_many_accounts_is_slowed(throttled_app: FastAPI) -> None:
    statuses = [_login(throttled_app, "203.0.113.66", "guess", email=f"u{i}@example.com")
                for i in range(25)]
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
    assert _login(throttled_app, "198.51.100.7") == 200


def test_many_addresses_guessing_one_account_spare_its_known_addresses(
        throttled_app: FastAPI) -> None:
    known, new = "198.51.100.7", "198.51.100.8"
    assert _login(throttled_app, known) == 200
    botnet = [_login(throttled_app, f"203.0.113.{i}", "guess") for i in range(1, 26)]
    assert botnet[:20] == [401] * 20 and set(botnet[20:]) == {429}
    assert _login(throttled_app, new) == 429  # unknown to the account while it is attacked
    assert _login(throttled_app, known) == 200


def test_forwarded_addresses_are_ignored_unless_the_peer_is_a_trusted_proxy(
        throttled_app: FastAPI) -> None:
    sprays = [_login(throttled_app, "127.0.0.1", "guess",
                     headers={"X-Forwarded-For": f"203.0.113.{i}"}) for i in range(20)]
    assert sprays.count(401) == 5 and sprays.count(429) == 15


@pytest.fixture
def behind_proxy(sqlite_engine: Engine, make_user: MakeUser, frozen: Clock,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    make_user(Role.ADMIN)
    monkeypatch.setenv("KITHKIN_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
    get_settings.cache_clear()
    yield create_app(include_dashboard=False, login_limiter=LoginRateLimiter(clock=frozen))
    get_settings.cache_clear()


def test_a_trusted_proxy_names_the_client_and_forged_entries_do_not_help(
        behind_proxy: FastAPI) -> None:
    def via_proxy(forwarded_for: str, password: str = "guess") -> int:
        return _login(behind_proxy, "10.1.2.3", password,
                      headers={"X-Forwarded-For": forwarded_for})

    # The client put a random first entry; the proxy appended the real address.
    statuses = [via_proxy(f"192.0.2.{i}, 203.0.113.66") for i in range(8)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    assert via_proxy("203.0.113.67", PASSWORD) == 200  # another client behind the proxy
    assert via_proxy("203.0.113.66, 127.0.0.1", PASSWORD) == 429  # chain of proxies


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    assert Settings(trusted_proxies="10.0.0.0/8, ::1").trusted_proxies == ["10.0.0.0/8",
                                                                          "::1"]
    assert Settings().trusted_proxies == []
    with pytest.raises(ValidationError, match="not an IP address"):
        Settings(trusted_proxies="proxy.example")


def test_serve_turns_uvicorn_proxy_headers_off(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(serving.uvicorn, "run", lambda app, **options: seen.update(options))
    serving.run("kithkin.api.app:create_app", host="127.0.0.1", port=1)
    assert seen["proxy_headers"] is False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post_login(url: str, email: str, forwarded_for: str) -> int:
    request = urllib.request.Request(
        url + "/api/v1/auth/login", method="POST",
        data=json.dumps({"email": email, "password": "guess"}).encode(),
        headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded_for})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_kithkin_serve_is_not_fooled_by_a_rotating_forwarded_for(
        make_user: MakeUser, workspace: Path) -> None:
    """The reported attack, end to end: a password spray (one guess at each of 30
    accounts) from 127.0.0.1 with a new X-Forwarded-For each; uvicorn's default
    believed the header, so every guess was answered."""
    make_user(Role.ADMIN)
    port = _free_port()
    env = {**os.environ, "KITHKIN_SECRET_KEY": secrets.token_urlsafe(48)}
    log = (workspace / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "kithkin.cli.main", "serve", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (workspace / "serve.log").read_text()
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "kithkin serve did not start"
                time.sleep(0.2)
        statuses = [_post_login(url, f"user{i}@example.com", f"203.0.113.{i}")
                    for i in range(30)]
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
    # Ten free failures, then 1 s, 2 s... blocks: a slow machine may fit one more in.
    assert statuses[:10] == [401] * 10 and statuses.count(429) >= 17, statuses


def test_memory_stays_bounded_under_a_spray_of_addresses(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from kithkin.auth import ratelimit

    monkeypatch.setattr(ratelimit, "_MAX_KEYS", 10)
    limiter = LoginRateLimiter(clock=Clock())
    for i in range(50):
        _fail(limiter, f"203.0.113.{i}", account=f"u{i}@example.com")
    for counter in (limiter.by_account_address, limiter.by_address, limiter.by_account):
        assert len(counter._keys) <= 10
