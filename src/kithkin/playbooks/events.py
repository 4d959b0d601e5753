"""Playbooks on events as they arrive: a coalescing background run after ingestion.

An event request returns once its events are stored; the playbooks' event-fed rules
(purchase, complaint, survey, new idea) run afterwards, off the request. Requests that
arrive while a run is going ask for one more run after it, not one each: a run looks at
every due occurrence, so one later run covers them all, and the dedupe keys make any
overlap harmless. A failed run is recorded (``playbook_run.error``) and logged; it never
fails the ingestion that triggered it.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from sqlalchemy import Engine

from kithkin.config import Settings
from kithkin.playbooks import service
from kithkin.playbooks.triggers import EVENT_TRIGGERS

log = logging.getLogger(__name__)
KINDS = frozenset({"transactions", "interactions"})


class EventRuns:
    """At most one run at a time per process, and at most one more waiting."""

    def __init__(self) -> None:
        self._state = threading.Lock()
        self._running = False
        self._again = False

    def request(self, engine: Engine, settings: Settings) -> None:
        with self._state:
            if self._running:
                self._again = True
                return
            self._running = True
        while True:
            run_once(engine, settings)
            with self._state:
                if not self._again:
                    self._running = False
                    return
                self._again = False


def run_once(engine: Engine, settings: Settings) -> None:
    today = datetime.now(UTC).date()
    try:
        service.run(engine=engine, settings=settings, as_of=today, mode="events",
                    only=set(EVENT_TRIGGERS))
    except Exception as exc:  # recorded and logged: the events are stored regardless
        log.exception("playbooks after events failed")
        try:
            service.record_failure(engine=engine, as_of=today, mode="events",
                                   error=f"{type(exc).__name__}: {exc}")
        except Exception:
            log.exception("could not record the failed playbook run")


RUNS = EventRuns()
