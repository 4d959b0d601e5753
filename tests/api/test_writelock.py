"""The SQLite bulk-write lock: exclusive, non-blocking probe, retries of lost races."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from kithkin.database.writelock import bulk_write_lock, with_lock_retries


def test_probe_fails_while_a_bulk_write_holds_the_lock(sqlite_engine: Engine) -> None:
    with bulk_write_lock(sqlite_engine) as held:
        assert held
        with bulk_write_lock(sqlite_engine, wait=False) as probe:
            assert not probe
    with bulk_write_lock(sqlite_engine, wait=False) as probe:
        assert probe


def test_lost_races_are_retried_other_errors_are_not(sqlite_engine: Engine) -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
        return "done"

    assert with_lock_retries(sqlite_engine, flaky) == "done" and len(calls) == 3

    def broken() -> str:
        raise OperationalError("INSERT", {}, sqlite3.OperationalError("no such table: x"))

    with pytest.raises(OperationalError, match="no such table"):
        with_lock_retries(sqlite_engine, broken)
