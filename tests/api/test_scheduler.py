"""The refresh scheduler inside `kithkin serve`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kithkin.analytics import service as metrics_service
from kithkin.api.app import create_app
from kithkin.config import get_settings
from kithkin.database.core import get_engine, session_scope
from kithkin.database.manage import upgrade
from kithkin.errors import ValidationError
from kithkin.jobs.scheduler import RefreshScheduler
from tests.conftest import run_async


def test_runs_repeatedly_and_survives_a_failed_run() -> None:
    calls: list[int] = []

    def run() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ValidationError("bad data")

    async def scenario() -> RefreshScheduler:
        scheduler = RefreshScheduler(interval_seconds=0.01, run=run)
        scheduler.start()
        await asyncio.sleep(0.3)
        await scheduler.stop()
        return scheduler

    scheduler = run_async(scenario())
    assert len(calls) >= 2, "the loop stopped after the failed run"
    assert scheduler.runs == len(calls)
    assert scheduler.last_error is None  # the later runs succeeded


def test_rejects_a_non_positive_interval() -> None:
    with pytest.raises(ValueError, match="positive"):
        RefreshScheduler(interval_seconds=0, run=lambda: None)


def test_server_refreshes_the_store_on_its_schedule(workspace: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITHKIN_REFRESH_INTERVAL_HOURS", str(0.5 / 3600))  # every 0.5 s
    get_settings.cache_clear()
    upgrade(get_engine())
    app = create_app()
    with TestClient(app):
        deadline = time.monotonic() + 60
        scheduler = app.state.refresh_scheduler
        while scheduler.runs == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert scheduler.runs >= 1
    assert scheduler.last_error is None, scheduler.last_error
    with session_scope() as session:
        assert metrics_service.latest_as_of(session=session) is not None


def test_no_scheduler_unless_configured(workspace: Path) -> None:
    upgrade(get_engine())
    app = create_app()
    with TestClient(app):
        assert not hasattr(app.state, "refresh_scheduler")
