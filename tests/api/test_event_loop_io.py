"""No database I/O on the event loop: a query there blocks every request, and when all
pooled connections are taken it waits the whole pool timeout (the 30 s stall of every
client under a 20-client load, issue 11 item 9)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from kithkin.config import get_settings
from kithkin.database.core import build_engine, session_factory
from kithkin.database.writelock import bulk_write_lock
from kithkin.users.models import Role
from tests.conftest import run_async

from .conftest import AddCustomers


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def loop_queries(app: FastAPI) -> Iterator[list[str]]:
    """The SQL statements executed on the event loop's thread while the test runs."""
    seen: list[str] = []
    engine: Engine = app.state.engine

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if _on_event_loop():
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("path", ["/api/v1/customers/{id}", "/api/v1/customers",
                                  "/api/v1/auth/me", "/api/v1/transactions?customer_id={id}"])
@pytest.mark.parametrize("bulk_write_running", [False, True])
def test_reads_run_no_query_on_the_event_loop(
        client: TestClient, keys: dict[Role, str], bearer: Callable[[str], dict[str, str]],
        add_customers: AddCustomers, sqlite_engine: Engine, loop_queries: list[str],
        bulk_write_running: bool, path: str) -> None:
    """A fresh key's last_used_at stamp is due; while a bulk write holds the lock the
    stamp is skipped, which used to roll the session back and expire the user, so the
    async permission check reloaded it on the event loop."""
    customer_id = add_customers(1)[0]
    lock = (bulk_write_lock(sqlite_engine, wait=False) if bulk_write_running
            else contextlib.nullcontext(True))
    with lock as held:
        assert held
        response = client.get(path.format(id=customer_id),
                              headers=bearer(keys[Role.MANAGER]))
    assert response.status_code == 200, response.text
    assert loop_queries == []


def test_concurrent_requests_do_not_stall_when_the_pool_is_small(
        app: FastAPI, keys: dict[Role, str], add_customers: AddCustomers,
        sqlite_engine: Engine) -> None:
    """The stall itself: more requests than pooled connections while every last-used
    stamp is skipped. A query on the event loop would wait for a connection held by a
    request that waits for the event loop, until the pool timeout (then a 500)."""
    customer_id = add_customers(1)[0]
    engine = build_engine(get_settings().resolved_database_url, pool_size=1, max_overflow=0,
                          pool_timeout=3)
    app.state.engine, app.state.session_factory = engine, session_factory(engine)
    headers = {"Authorization": f"Bearer {keys[Role.MANAGER]}"}

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            responses = await asyncio.gather(*(
                client.get(f"/api/v1/customers/{customer_id}", headers=headers)
                for _ in range(6)))
        return [response.status_code for response in responses]

    with bulk_write_lock(sqlite_engine, wait=False) as held:
        assert held
        started = time.perf_counter()
        statuses = run_async(burst())
        elapsed = time.perf_counter() - started
    engine.dispose()
    assert statuses == [200] * 6
    assert elapsed < 3
