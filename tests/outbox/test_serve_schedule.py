"""`kithkin serve` delivers on its schedule: a message queued while the app runs reaches
the SMTP server without anybody running `kithkin deliver`; none configured, no schedule."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from kithkin.api.app import create_app
from kithkin.config import Settings
from kithkin.database.core import session_scope
from kithkin.outbox import service as outbox_service
from kithkin.outbox.models import Message, MessageStatus
from tests.outbox.conftest import AddCustomer
from tests.outbox.receivers import Inbox


def test_served_app_delivers_on_its_schedule(sqlite_engine: Engine, settings: Settings,
                                             add_customer: AddCustomer,
                                             receivers: tuple[int, Inbox, str, Inbox]) -> None:
    every = settings.model_copy(update={"outbox_deliver_interval_seconds": 0.2})
    app = create_app(settings=every, include_dashboard=False)
    with TestClient(app):
        with session_scope(sqlite_engine) as session:
            message = outbox_service.queue_message(session=session,
                                                   customer_id=add_customer(),
                                                   template="winback", settings=every)
        deadline = time.monotonic() + 30
        while not receivers[1].accepted and time.monotonic() < deadline:
            time.sleep(0.05)
        scheduler = app.state.outbox_scheduler
    assert len(receivers[1].accepted) == 1
    assert scheduler.last_error is None
    with session_scope(sqlite_engine) as session:
        stored = session.get(Message, message.id)
        assert stored is not None and stored.status == MessageStatus.SENT


def test_no_delivery_schedule_when_switched_off(sqlite_engine: Engine,
                                                settings: Settings) -> None:
    app = create_app(settings=settings, include_dashboard=False)  # interval None
    with TestClient(app):
        assert not hasattr(app.state, "outbox_scheduler")
