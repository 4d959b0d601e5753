"""A store shared by tests that only read it or write the same rows (saves migrations)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from kithkin.database.core import build_engine
from kithkin.database.manage import upgrade

from .helpers import seed_customers


@pytest.fixture(scope="module")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Migrated SQLite store with the three helper customers, one per test module."""
    folder = tmp_path_factory.mktemp("seeded")
    engine = build_engine(f"sqlite:///{folder / 'kithkin.db'}")
    upgrade(engine)
    seed_customers(engine, folder)
    yield engine
    engine.dispose()
