"""A dashboard app on a seeded SQLite store, and a helper to sign in as each role."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kithkin.api.app import create_app
from kithkin.database.core import build_engine
from kithkin.database.manage import upgrade
from tests.dashboard.seeding import PASSWORD, email_of, form_token, seed


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """Migrate and seed once (Argon2 hashes and migrations are the slow part); each test
    gets a copy of the file."""
    folder = tmp_path_factory.mktemp("dashboard-seed")
    path = folder / "kithkin.db"
    engine = build_engine(f"sqlite:///{path}")
    upgrade(engine)
    ids = seed(engine, reject_dir=folder / "rejects")
    engine.dispose()  # checkpoints the WAL into the main file
    return path, ids


@pytest.fixture
def seeded(seeded_template: tuple[Path, dict[str, int]], workspace: Path) -> dict[str, int]:
    template, ids = seeded_template
    workspace.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, workspace / "kithkin.db")
    return ids


@pytest.fixture
def client(seeded: dict[str, int]) -> Iterator[TestClient]:
    app = create_app()
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def sign_in(client: TestClient, role: str) -> None:
    token = form_token(client.get("/login").text)
    response = client.post("/login", data={"email": email_of(role), "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 303, response.text


@pytest.fixture
def login(client: TestClient) -> Callable[[str], TestClient]:
    def as_role(role: str) -> TestClient:
        sign_in(client, role)
        return client

    return as_role
