"""Messages the playbooks held back, and why: read from the firings.

A message that the outbox's queue-time checks refuse (no consent for its purpose on its
channel, no address, an erased customer) is not stored as a message: the firing that
decided it keeps the reason as ``skip_reason`` "message:<reason>"
(:mod:`kithkin.playbooks.actions`). So "why did this customer not hear from us?" is
answered here, next to the outbox's own skips (the frequency cap, a check at delivery
time), by the customer 360 page, the Outbox page, the API and the CLI.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.playbooks.actions import HELD
from kithkin.playbooks.models import PlaybookFiring
from kithkin.playbooks.schemas import HeldBackRead


def held_back(*, session: Session, customer_id: int | None = None, limit: int = 20,
              scope: CustomerScope = EVERYONE) -> list[HeldBackRead]:
    """The latest firings whose message was held back, newest first (a customer's by
    the firings' customer index; every customer's from the end of the table)."""
    f = PlaybookFiring
    query = select(f).where(f.skip_reason.like(f"{HELD}%"), *scope.rows(f.customer_id))
    if customer_id is not None:
        query = query.where(f.customer_id == customer_id)
    return [HeldBackRead(
        firing_id=row.id, customer_id=row.customer_id, playbook=row.playbook,
        level=row.level, rule=row.rule, trigger=row.trigger, occurrence=row.occurrence,
        occurred_on=row.occurred_on, fired_on=row.fired_on,
        reason=(row.skip_reason or "")[len(HELD):])
        for row in session.scalars(query.order_by(f.id.desc()).limit(limit))]
