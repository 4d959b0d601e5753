from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from kithkin.database import registry  # noqa: F401
from kithkin.database.base import Base
from kithkin.database.core import SQLITE_PRAGMAS
from kithkin.database.manage import downgrade, upgrade


def test_migrations_create_every_model_table(store_engine: Engine) -> None:
    tables = set(inspect(store_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_models_and_migrations_do_not_drift(store_engine: Engine) -> None:
    with store_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models differ from migrations; run `make migration`: {diff}"


def test_downgrade_to_base_and_back(store_engine: Engine) -> None:
    downgrade(store_engine, "base")
    assert set(inspect(store_engine).get_table_names()) <= {"alembic_version"}
    upgrade(store_engine)
    assert "customer" in inspect(store_engine).get_table_names()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert SQLITE_PRAGMAS["journal_mode"] == "WAL"
