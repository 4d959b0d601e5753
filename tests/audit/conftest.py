"""Audit tests reuse the API fixtures (migrated store copy, app, keys per role)."""

from tests.api.conftest import (  # noqa: F401
    add_customers,
    app,
    assign_customers,
    bearer,
    client,
    keys,
    make_user,
    migrated_template,
    password,
    sqlite_engine,
)
