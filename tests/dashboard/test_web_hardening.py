"""Dashboard uploads with names no disk accepts, and error pages without server paths."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from tests.dashboard.seeding import form_token


def test_a_300_character_file_name_starts_an_import(
        login: Callable[[str], TestClient]) -> None:
    client = login("admin")
    token = form_token(client.get("/imports").text)
    response = client.post("/imports", data={"kind": "customers", "csrf_token": token},
                           files={"file": ("p" * 300 + ".csv", b"source,external_id\n")})
    assert response.status_code == 303, response.text[:300]
    assert response.headers["location"].startswith("/imports/")


def test_an_unreadable_upload_is_reported_without_the_server_folder(
        login: Callable[[str], TestClient], workspace: Path) -> None:
    client = login("admin")
    token = form_token(client.get("/imports").text)
    response = client.post("/imports", data={"kind": "customers", "csrf_token": token},
                           files={"file": ("orders.parquet", b"garbage")})
    assert response.status_code == 400
    assert "orders.parquet" in response.text and "Parquet" in response.text
    assert str(workspace.resolve()) not in response.text
    assert "/uploads/" not in response.text
