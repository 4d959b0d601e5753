"""Request bodies: credentials checked before the body is read, size limits per route
enforced while the body streams, uploads bounded and old uploads removed."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from kithkin.api.app import create_app
from kithkin.config import Settings, get_settings
from kithkin.database.core import session_scope
from kithkin.imports.models import ImportJob, ImportStatus
from kithkin.imports.uploads import remove_stale_uploads
from kithkin.users.models import Role
from tests.conftest import run_async

from .conftest import PASSWORD, MakeUser

KIB = 1024
LIMITS = {"max_body_bytes": 64 * KIB, "max_events_batch_bytes": 256 * KIB,
          "max_login_body_bytes": 4 * KIB, "max_upload_bytes": 128 * KIB}


@pytest.fixture
def settings(sqlite_engine: Engine) -> Settings:
    return get_settings().model_copy(update=LIMITS)


@pytest.fixture
def limited_app(settings: Settings) -> FastAPI:
    return create_app(settings, include_dashboard=False)


@pytest.fixture
def limited(limited_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(limited_app) as client:
        yield client


@pytest.fixture
def manager_key(make_user: MakeUser) -> str:
    return make_user(Role.MANAGER)[1]


@dataclass
class AsgiCall:
    """One request driven straight through the ASGI interface, recording every
    ``receive()`` the server makes, so a test can tell whether the body was read."""

    chunks_offered: int
    chunk: bytes
    receives: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)

    async def receive(self) -> dict[str, Any]:
        self.receives += 1
        more = self.receives < self.chunks_offered
        return {"type": "http.request", "body": self.chunk, "more_body": more}

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def headers(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.messages[0]["headers"]}

    @property
    def json(self) -> dict[str, Any]:
        body = b"".join(m.get("body", b"") for m in self.messages[1:])
        loaded: dict[str, Any] = json.loads(body)
        return loaded


def asgi_post(app: FastAPI, path: str, headers: dict[str, str], *, chunk_bytes: int,
              chunks: int) -> AsgiCall:
    call = AsgiCall(chunks_offered=chunks, chunk=b"x" * chunk_bytes)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }

    async def run() -> None:
        await app(scope, call.receive, call.send)

    run_async(run())  # not in this thread: a browser test's loop may still run here
    return call


HUGE = {"content-type": "application/json", "content-length": str(200 * 1024 * 1024)}
CHUNKED = {"content-type": "application/json", "transfer-encoding": "chunked"}


@pytest.mark.parametrize("headers", [HUGE, CHUNKED], ids=["content-length", "chunked"])
def test_anonymous_body_is_refused_401_before_any_byte_is_received(
        app: FastAPI, headers: dict[str, str]) -> None:
    call = asgi_post(app, "/api/v1/events/batch", headers, chunk_bytes=1 << 20, chunks=200)
    assert call.status == 401
    assert call.receives == 0
    assert call.headers["content-type"] == "application/problem+json"
    assert call.headers["connection"] == "close"
    assert call.json["type"] == "urn:kithkin:problem:unauthenticated"


def test_a_bad_api_key_or_forged_cookie_is_also_refused_unread(app: FastAPI) -> None:
    for credentials in ({"x-api-key": "kk_00000000." + "a" * 43},
                        {"cookie": "kithkin_session=eyJ1c2VyX2lkIjogMX0=.forged.sig"}):
        call = asgi_post(app, "/api/v1/customers", {**HUGE, **credentials},
                         chunk_bytes=1 << 20, chunks=200)
        assert (call.status, call.receives) == (401, 0)


def test_anonymous_malformed_json_gets_401_not_422(client: TestClient) -> None:
    response = client.post("/api/v1/customers", content=b"{not json",
                           headers={"content-type": "application/json"})
    assert response.status_code == 401


def test_authenticated_declared_oversize_gets_413_unread(limited_app: FastAPI,
                                                         manager_key: str) -> None:
    headers = {**HUGE, "content-length": str(LIMITS["max_events_batch_bytes"] + 1),
               "x-api-key": manager_key}
    call = asgi_post(limited_app, "/api/v1/events/batch", headers, chunk_bytes=1 << 16,
                     chunks=10)
    assert (call.status, call.receives) == (413, 0)
    assert call.json["type"] == "urn:kithkin:problem:content-too-large"
    assert "262,144-byte limit" in call.json["detail"]


def test_chunked_body_over_the_limit_is_cut_off_with_413(limited_app: FastAPI,
                                                         manager_key: str) -> None:
    chunk = 16 * KIB
    call = asgi_post(limited_app, "/api/v1/events/batch",
                     {**CHUNKED, "x-api-key": manager_key}, chunk_bytes=chunk, chunks=1000)
    assert call.status == 413
    assert call.json["type"] == "urn:kithkin:problem:content-too-large"
    # Reading stopped at the first chunk past the limit, not at the end of the body.
    assert call.receives == LIMITS["max_events_batch_bytes"] // chunk + 1


def test_chunked_oversize_through_http_client(limited: TestClient, manager_key: str) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"kind": "interactions", "records": ['
        for n in range(20_000):
            yield b'{"source": "web", "external_id": "e%d"},' % n

    response = limited.post("/api/v1/events/batch", content=body(),
                            headers={"x-api-key": manager_key,
                                     "content-type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_limits_are_per_route(limited: TestClient, manager_key: str) -> None:
    headers = {"x-api-key": manager_key}
    padding = "x" * (100 * KIB)  # over the default limit, under the batch limit
    customer = limited.post("/api/v1/customers", headers=headers,
                            json={"first_name": padding})
    assert customer.status_code == 413
    batch = limited.post("/api/v1/events/batch", headers=headers,
                         json={"kind": "interactions", "records": [{"note": padding}]})
    # Read and parsed: the ingestion's own check answers.
    assert batch.status_code == 422, batch.text
    assert batch.json()["errors"][0]["field"] == "source"


def test_login_is_public_but_small(limited: TestClient, make_user: MakeUser) -> None:
    make_user(Role.ANALYST)
    big = limited.post("/api/v1/auth/login", json={"email": "analyst@example.com",
                                                   "password": "p" * (8 * KIB)})
    assert big.status_code == 413
    ok = limited.post("/api/v1/auth/login", json={"email": "analyst@example.com",
                                                  "password": PASSWORD})
    assert ok.status_code == 200


def test_a_session_cookie_passes_the_gate(limited: TestClient, make_user: MakeUser) -> None:
    make_user(Role.ADMIN)
    assert limited.post("/api/v1/auth/login", json={"email": "admin@example.com",
                                                    "password": PASSWORD}).status_code == 200
    # Past the gate: the route itself answers (the CSRF check of cookie sessions).
    response = limited.post("/api/v1/imports", files={"file": ("a.csv", b"a,b\n")},
                            data={"kind": "customers"})
    assert response.status_code == 403, response.text


def uploads_of(settings: Settings) -> list[Path]:
    folder = settings.uploads_dir
    return sorted(folder.iterdir()) if folder.exists() else []


def test_an_upload_over_the_limit_is_refused_and_leaves_no_file(
        limited: TestClient, manager_key: str, settings: Settings) -> None:
    content = b"customer_id,email\n" + b"c1,a@example.com\n" * 20_000  # ~340 KiB
    response = limited.post("/api/v1/imports", headers={"x-api-key": manager_key},
                            files={"file": ("big.csv", content, "text/csv")},
                            data={"kind": "customers"})
    assert response.status_code == 413
    assert uploads_of(settings) == []


def test_an_upload_under_the_limit_is_stored_and_imported(
        limited: TestClient, manager_key: str, settings: Settings) -> None:
    content = b"source,external_id,first_name\nshop,u1,Ann\n"
    response = limited.post("/api/v1/imports", headers={"x-api-key": manager_key},
                            files={"file": ("small.csv", content, "text/csv")},
                            data={"kind": "customers"})
    assert response.status_code == 202, response.text
    assert [p.read_bytes() for p in uploads_of(settings)] == [content]


def _aged(path: Path, hours: float) -> Path:
    path.write_text("x")
    moment = time.time() - hours * 3600
    os.utime(path, (moment, moment))
    return path


def test_old_uploads_are_removed_except_those_of_running_jobs(
        sqlite_engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    finished = _aged(folder / "finished.csv", 100)
    orphan = _aged(folder / "rejected.csv", 80)
    running = _aged(folder / "running.csv", 100)
    fresh = _aged(folder / "fresh.csv", 1)
    with session_scope(sqlite_engine) as session:
        session.add_all([
            ImportJob(kind="customers", filename=str(running), status=ImportStatus.RUNNING),
            ImportJob(kind="customers", filename=str(finished), status=ImportStatus.FAILED),
        ])
    with session_scope(sqlite_engine) as session:
        removed = remove_stale_uploads(session=session, folder=folder,
                                       older_than=timedelta(hours=72))
    assert sorted(removed) == sorted([finished, orphan])
    assert sorted(folder.iterdir()) == sorted([fresh, running])
    with session_scope(sqlite_engine) as session:
        later = datetime.now(UTC) + timedelta(hours=72)
        assert remove_stale_uploads(session=session, folder=folder,
                                    older_than=timedelta(hours=72), now=later) == [fresh]


def test_serve_start_removes_old_uploads(settings: Settings) -> None:
    settings.uploads_dir.mkdir(parents=True)
    old = _aged(settings.uploads_dir / "old.csv", settings.upload_retention_hours + 1)
    recent = _aged(settings.uploads_dir / "recent.csv", 1)
    app = create_app(settings, include_dashboard=False)
    with TestClient(app):
        assert not old.exists() and recent.exists()
        assert app.state.upload_cleanup.runs == 1


def test_anonymous_dashboard_upload_is_sent_to_login_unread(settings: Settings) -> None:
    app = create_app(settings)  # with the dashboard
    headers = {"content-type": "multipart/form-data; boundary=x", "accept": "text/html",
               "content-length": str(1 << 30)}
    call = asgi_post(app, "/imports", headers, chunk_bytes=1 << 20, chunks=1024)
    assert (call.status, call.receives) == (303, 0)
    assert call.headers["location"] == "/login?next=/imports"


def test_a_small_refused_body_is_drained_and_the_connection_kept(app: FastAPI) -> None:
    headers = {"content-type": "application/json", "content-length": str(4 * KIB)}
    call = asgi_post(app, "/api/v1/customers", headers, chunk_bytes=KIB, chunks=4)
    assert (call.status, call.receives) == (401, 4)
    assert "connection" not in call.headers
