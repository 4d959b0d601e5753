"""The refresh scheduler that runs inside `kithkin serve`.

Metrics, stages and health go stale as orders and interactions arrive; a server that
refreshes itself keeps the dashboard and the playbooks current without an external cron.
The refresh runs in a worker thread so requests keep being served meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from kithkin.errors import KithkinError

log = logging.getLogger(__name__)


class RefreshScheduler:
    """Calls ``run`` every ``interval_seconds``; a failed run is logged and retried next time."""

    def __init__(self, *, interval_seconds: float, run: Callable[[], object],
                 name: str = "refresh") -> None:
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive")
        self.name = name
        self.interval_seconds = interval_seconds
        self._run = run
        self.runs = 0
        self.last_finished_at: datetime | None = None
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_seconds)
            await asyncio.to_thread(self.run_once)

    def run_once(self) -> None:
        try:
            self._run()
            self.last_error = None
        except KithkinError as exc:  # bad data or a model that did not fit: say so, go on
            self.last_error = str(exc)
            log.error("scheduled %s failed: %s", self.name, exc)
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("scheduled %s crashed", self.name)
        finally:
            self.runs += 1
            self.last_finished_at = datetime.now(UTC)
