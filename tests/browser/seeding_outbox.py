"""Outbox rows for the browser pages: a dead letter (Retry button) and a skip, for the
first seeded customer."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from kithkin.config import Settings
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.outbox import service as outbox_service


def seed_outbox(engine: Engine, home: Path) -> dict[str, int]:
    settings = Settings(home=home)
    with session_scope(engine) as session:
        customer_id = session.scalar(select(Customer.id).order_by(Customer.id).limit(1))
        dead = outbox_service.queue_message(session=session, customer_id=customer_id,
                                            template="missing_template", settings=settings)
        outbox_service.queue_message(session=session, customer_id=customer_id,
                                     template="winback", channel="sms", settings=settings)
        return {"dead_message": dead.id}
