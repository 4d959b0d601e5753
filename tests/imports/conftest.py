"""A store shared by tests that only read it or write the same rows (saves migrations)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from kithkin.api.app import create_app
from kithkin.config import get_settings
from kithkin.database.core import build_engine, session_scope
from kithkin.database.manage import upgrade
from kithkin.users import service as user_service
from kithkin.users.models import Role

from .helpers import Service, seed_customers


@pytest.fixture(scope="module")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Migrated SQLite store with the three helper customers, one per test module."""
    folder = tmp_path_factory.mktemp("seeded")
    engine = build_engine(f"sqlite:///{folder / 'kithkin.db'}")
    upgrade(engine)
    seed_customers(engine, folder)
    yield engine
    engine.dispose()


@pytest.fixture
def service(sqlite_engine: Engine, tmp_path: Path) -> Iterator[Service]:
    """The API over a seeded store; afterwards every customer's page must answer 200."""
    seed_customers(sqlite_engine, tmp_path)
    with session_scope(sqlite_engine) as session:
        user = user_service.create_user(session=session, email="admin@example.com",
                                        name="Admin", password="correct horse battery",
                                        role=Role.ADMIN)
        _, key = user_service.create_api_key(
            session=session, settings=get_settings(), user_id=user.id, name="fuzz", scopes=["*"])
    with TestClient(create_app(include_dashboard=False)) as client:
        service = Service(sqlite_engine, client, {"Authorization": f"Bearer {key}"})
        yield service
        service.customer_pages_answer(everyone=True)
