"""Alembic environment: migrates the connection handed in by kithkin.database.manage."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from kithkin.database import registry  # noqa: F401  (registers every model)
from kithkin.database.base import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _migrate(conn)


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copy
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
