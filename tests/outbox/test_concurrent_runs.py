"""Two delivery runs at once (two `kithkin serve` workers, or a cron `kithkin deliver`
beside the server) never claim the same message: zero raw repeats at the receivers, on
SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, func, select

from kithkin.config import Settings
from kithkin.customers.models import Consent, Customer
from kithkin.database.core import session_scope
from kithkin.outbox import delivery
from kithkin.outbox import service as outbox_service
from kithkin.outbox.models import Message, MessageStatus
from tests.outbox.conftest import SECRET
from tests.outbox.receivers import smtp_server, webhook_server

COUNT = 120


def test_two_runs_at_once_send_each_message_once(store_engine: Engine,
                                                 workspace: Path) -> None:
    with smtp_server() as (port, mail), webhook_server(SECRET) as (url, hooks):
        settings = Settings(home=workspace, smtp_host="127.0.0.1", smtp_port=port,
                            smtp_tls="none", webhook_url=url, webhook_secret=SECRET,
                            outbox_cap_messages=0, outbox_batch_size=7)
        with session_scope(store_engine) as session:
            customers = [Customer(first_name=f"P{i}", email=f"p{i}@example.com",
                                  consents=[Consent(channel="email", status="granted")])
                         for i in range(COUNT)]
            session.add_all(customers)
            session.flush()
            for i, customer in enumerate(customers):
                outbox_service.queue_message(
                    session=session, customer_id=customer.id, template="winback",
                    channel="email" if i % 2 else "webhook", settings=settings)
        reports: list[delivery.DeliveryReport] = []

        def run() -> None:
            reports.append(delivery.deliver(settings=settings, engine=store_engine))

        threads = [threading.Thread(target=run) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(r.sent for r in reports) == COUNT
        assert len(reports) == 3  # every run finished without an error
        assert mail.duplicates == hooks.duplicates == 0
        assert len(mail.accepted) + len(hooks.accepted) == COUNT
    with session_scope(store_engine) as session:
        assert session.scalar(select(func.count()).select_from(Message).where(
            Message.status == MessageStatus.SENT)) == COUNT
