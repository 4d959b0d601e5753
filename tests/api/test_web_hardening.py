"""Security headers on every answer, upload names any disk accepts, and error messages
that never show where files live on the server."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from kithkin.api.app import create_app
from kithkin.api.headers import CONTENT_SECURITY_POLICY
from kithkin.config import get_settings
from kithkin.dashboard.pages_static import plotly_bundled_style_ids, plotly_css
from kithkin.imports.filenames import MAX_NAME_BYTES, safe_upload_name
from kithkin.public_text import hide_paths
from kithkin.users.models import Role

Bearer = Callable[[str], dict[str, str]]
PROTECTIONS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def _assert_protected(response: object, *, cached: bool = False) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name, value in PROTECTIONS.items():
        assert headers[name] == value, (name, headers)
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert (headers["cache-control"] == "no-store") is not cached


def test_every_kind_of_answer_carries_the_security_headers(
        sqlite_engine: Engine, keys: dict[Role, str], bearer: Bearer) -> None:
    with TestClient(create_app(), follow_redirects=False) as client:
        admin = bearer(keys[Role.ADMIN])
        _assert_protected(client.get("/api/v1/auth/me", headers=admin))  # API JSON
        _assert_protected(client.get("/api/v1/customers/999", headers=admin))  # problem
        _assert_protected(client.get("/api/v1/auth/me"))  # 401
        _assert_protected(client.get("/login"))  # a page with a CSRF token
        _assert_protected(client.get("/customers"))  # redirect to sign in
        _assert_protected(client.get("/healthz"))
        _assert_protected(client.get("/static/dashboard/dashboard.js"), cached=True)
        assert client.get("/static/dashboard/dashboard.js").headers["cache-control"] \
            .startswith("public")
        docs = client.get("/docs")  # Swagger UI: an inline bootstrap script
        assert docs.status_code == 200 and "frame-ancestors 'none'" in \
            docs.headers["content-security-policy"]
        assert docs.headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in docs.headers
        _assert_docs_are_local(client)
    with TestClient(create_app(https_only=True)) as secure:
        assert secure.get("/healthz").headers["strict-transport-security"].startswith(
            "max-age=")


def _assert_docs_are_local(client: TestClient) -> None:
    """/docs and /redoc name no other origin (they must work without internet), their
    policy allows none, and every asset they load is served here."""
    for path in ("/docs", "/redoc"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert "https://" not in answer.text and "http://" not in answer.text, path
        assert "https:" not in answer.headers["content-security-policy"], path
        assets = re.findall(r'(?:src|href)="(/[^"]+)"', answer.text)
        assert assets, path
        for asset in assets:
            served = client.get(asset)
            assert served.status_code == 200 and len(served.content) > 1000, asset
    assert client.get("/static/api-docs/..%2Fcore.py").status_code == 404


def test_plotly_css_is_served_as_a_file_for_the_csp() -> None:
    """plotly.js's own rules come out of the installed bundle; if a plotly upgrade
    stores them differently this fails instead of charts losing their styles."""
    css = plotly_css()
    assert ".js-plotly-plot .plotly .modebar{" in css
    assert ".js-plotly-plot .plotly .modebar-btn" in css and ".plotly-notifier{" in css
    assert "'" not in CONTENT_SECURITY_POLICY.split("style-src")[1].split(";")[0].replace(
        "'self'", "")  # no 'unsafe-inline', no hashes: the file is what makes it work
    assert plotly_bundled_style_ids() and all(i and '"' not in i
                                              for i in plotly_bundled_style_ids())


@pytest.mark.parametrize(("original", "expected"), [
    ("a" * 300 + ".csv", "a" * (MAX_NAME_BYTES - 4) + ".csv"),
    ("../../etc/passwd.csv", "passwd.csv"),
    ("C:\\Users\\bob\\orders.csv.gz", "orders.csv.gz"),
    ("my orders (2024).jsonl", "my_orders_2024.jsonl"),
    ("nul\x00byte.csv", "nul_byte.csv"),
    (".hidden.csv", "hidden.csv"),
    ("", "upload"),
    ("é" * 200 + ".parquet", "é" * 56 + ".parquet"),
])
def test_upload_names_are_made_safe_and_short(original: str, expected: str) -> None:
    name = safe_upload_name(original)
    assert name == expected
    assert len(name.encode()) <= MAX_NAME_BYTES


def test_a_300_character_file_name_imports(client: TestClient, keys: dict[Role, str],
                                           bearer: Bearer) -> None:
    admin = bearer(keys[Role.ADMIN])
    name = "customers-" + "x" * 290 + ".csv"
    started = client.post("/api/v1/imports", headers=admin, data={"kind": "customers"},
                          files={"file": (name, b"source,external_id\nweb,W-1\n")})
    assert started.status_code == 202, started.text
    job = _finished(client, started.json()["status_url"], admin)
    assert job["status"] == "succeeded" and job["rows_written"] == 1
    saved = list((get_settings().home / "uploads").iterdir())
    assert len(saved) == 1 and len(saved[0].name.encode()) <= 33 + MAX_NAME_BYTES
    assert job["filename"] == saved[0].name.split("-", 1)[1]  # no server folder


def _finished(client: TestClient, url: str, headers: dict[str, str]) -> dict[str, object]:
    deadline = time.monotonic() + 30
    job: dict[str, object] = client.get(url, headers=headers).json()
    while job["finished_at"] is None and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(url, headers=headers).json()
    return job


def test_error_details_name_files_but_not_server_folders(
        client: TestClient, keys: dict[Role, str], bearer: Bearer, workspace: Path) -> None:
    admin = bearer(keys[Role.ADMIN])
    refused = client.post("/api/v1/imports", headers=admin, data={"kind": "customers"},
                          files={"file": ("orders.parquet", b"garbage")})
    assert refused.status_code == 422
    assert "orders.parquet" in refused.text and "Parquet" in refused.text
    assert str(workspace.resolve()) not in refused.text and "/uploads/" not in refused.text
    for job in client.get("/api/v1/imports", headers=admin).json():
        assert "/" not in str(job["filename"]) and "/" not in str(job["reject_path"] or "")


def test_hide_paths_keeps_the_file_name_and_leaves_urls_alone() -> None:
    upload = "/tmp/w/.kithkin/uploads/" + "0" * 32 + "-orders.csv"
    assert hide_paths(f"file {upload}: row 3: bad") == "file orders.csv: row 3: bad"
    assert hide_paths("cannot open '/usr/lib/x/kithkin.db'") == "cannot open 'kithkin.db'"
    assert hide_paths("C:\\Users\\bob\\rejects.csv is locked") == "rejects.csv is locked"
    for kept in ("poll /api/v1/imports/3", "see https://example.com/a/b", "1/2 done"):
        assert hide_paths(kept) == kept
