"""Shared fixtures: an isolated workspace per test, SQLite and PostgreSQL stores.

Tests that need PostgreSQL, a JVM or chromium skip with the reason when the service is
missing, unless KITHKIN_REQUIRE_SERVICES=1 (CI), where a missing service fails them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, create_engine, text

from kithkin.auth import passwords
from kithkin.config import get_settings
from kithkin.database.core import build_engine, dispose_engines
from kithkin.database.manage import upgrade

PG_ADMIN_URL = os.environ.get(
    "KITHKIN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def services_required() -> bool:
    return os.environ.get("KITHKIN_REQUIRE_SERVICES", "") in {"1", "true", "yes"}


def missing_service(reason: str) -> None:
    """Skip locally, fail in CI: a service CI promises must be there."""
    if services_required():
        pytest.fail(f"KITHKIN_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Argon2 at minimum cost for the whole run: the tests check behaviour, not hashing
    strength, and at the default cost every sign-in and seeded user took a noticeable
    fraction of a second (the session scope covers session-scoped seeding too)."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", lambda: cheap)
        patch.setattr(passwords, "dummy_hash", lambda: cheap.hash("x"))
        yield


@pytest.fixture(autouse=True)
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own workspace and default SQLite store."""
    home = tmp_path / ".kithkin"
    monkeypatch.setenv("KITHKIN_HOME", str(home))
    monkeypatch.delenv("KITHKIN_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    dispose_engines()
    yield home
    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture
def sqlite_engine(workspace: Path) -> Iterator[Engine]:
    engine = build_engine(get_settings().resolved_database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_server() -> str:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        missing_service(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"kithkin_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_server.rsplit("/", 1)[0] + f"/{name}"
    yield url
    dispose_engines()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_engine(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("KITHKIN_DATABASE_URL", pg_url)
    get_settings.cache_clear()
    engine = build_engine(pg_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_engine(request: pytest.FixtureRequest) -> Engine:
    """The same test against the embedded default and the production store."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    if request.param == "postgresql":
        request.applymarker(pytest.mark.postgres)
    engine: Engine = request.getfixturevalue(name)
    return engine


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        missing_service("Debian chromium is not installed (apt-get install chromium)")
    return path


def run_async(awaitable: Any) -> Any:
    """``asyncio.run`` in a thread of its own: a browser test's Playwright (sync API)
    leaves an event loop running in the main thread for the rest of the session, and a
    test that runs after it in the same worker could not start another loop there."""
    import threading

    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(awaitable)
        except BaseException as error:  # re-raised in the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


SLOW_MARKS = ("spark", "slow", "browser")  # a JVM (the slowest), seconds of work, a browser


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules with a JVM first, then those with a slow test, then the larger modules: the
    order xdist hands whole modules out in (``--dist loadfile --no-loadscope-reorder``,
    see the Makefile).

    xdist's own reorder sorts modules by their number of tests only, so a module of one
    minute-long test (a JVM, a full refresh) started last and ran alone at the end of the
    suite while the other worker idled."""
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def rank(tests: list[pytest.Item]) -> tuple[int, int]:
        marks = {mark for t in tests for mark in SLOW_MARKS if t.get_closest_marker(mark)}
        return (0 if "spark" in marks else 1 if marks else 2, -len(tests))

    ordered = sorted(modules.values(), key=rank)
    items[:] = [item for tests in ordered for item in tests]
