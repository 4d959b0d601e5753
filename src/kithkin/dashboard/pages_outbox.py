"""The Outbox page: messages per status, the latest skips (the outbox's, and the
messages the playbooks held back on their firings), and the dead letters with a Retry
button (admin and manager; the API serves agents their own customers')."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from kithkin.api.deps import SessionDep
from kithkin.api.params import IdPath
from kithkin.config import Settings, settings_of
from kithkin.dashboard.navigation import OPERATIONS, Page, register_page
from kithkin.dashboard.sections import CustomerSection, register_customer_section
from kithkin.dashboard.web import PageRoute, flash, render, require_page
from kithkin.database.base import utcnow
from kithkin.errors import ConflictError
from kithkin.outbox import delivery
from kithkin.outbox import service as outbox_service
from kithkin.outbox.models import Message, MessageStatus
from kithkin.playbooks import held
from kithkin.playbooks.schemas import HeldBackRead
from kithkin.users.models import StaffUser

OUTBOX = register_page(Page("outbox", "Outbox", "/outbox", OPERATIONS, order=75))
DEAD_SHOWN = 50
SKIPS_SHOWN = 20
RECENT_MESSAGES = 10


@dataclass(frozen=True)
class CustomerMessages:
    messages: list[Message]
    held: list[HeldBackRead]  # messages a playbook held back (kept on the firing)


def _recent_messages(session: Session, customer_id: int,
                     _settings: Settings) -> CustomerMessages | None:
    """The customer 360's Messages section: the latest ones, skips included, and the
    messages a playbook held back at queue time (why a customer did not hear from us is
    part of the relationship); none: no section."""
    rows, _ = outbox_service.list_page(session=session, limit=RECENT_MESSAGES,
                                       customer_id=customer_id)
    kept = held.held_back(session=session, customer_id=customer_id, limit=RECENT_MESSAGES)
    return CustomerMessages(rows, kept) if rows or kept else None


register_customer_section(CustomerSection("outbox", "Messages", "_customer_outbox.html",
                                          _recent_messages, order=60))

router = APIRouter(prefix="/outbox", route_class=PageRoute, include_in_schema=False)

OutboxUser = Annotated[StaffUser, Depends(require_page(OUTBOX.key))]


@router.get("")
def outbox(request: Request, session: SessionDep, user: OutboxUser) -> Response:
    settings = settings_of(request.app.state)
    skips, _ = outbox_service.list_page(session=session, limit=SKIPS_SHOWN,
                                        status=MessageStatus.SKIPPED)
    report = delivery.DeliveryReport()
    delivery.check_transports(settings, report)
    return render(request, "outbox.html", user=user, active=OUTBOX.key,
                  counts=outbox_service.counts_by_status(session=session),
                  dead=outbox_service.dead_letters(session=session, limit=DEAD_SHOWN),
                  skips=skips, unavailable=report.unavailable,
                  held=held.held_back(session=session, limit=SKIPS_SHOWN),
                  quiet_until=delivery.quiet_until(now=utcnow(),
                                                   settings=settings))


@router.post("/{message_id:int}/retry")
def retry(request: Request, session: SessionDep, user: OutboxUser,
          message_id: IdPath) -> Response:
    try:
        message = outbox_service.retry(session=session, message_id=message_id,
                                       settings=settings_of(request.app.state))
    except ConflictError as exc:
        session.rollback()
        flash(request, f"Not retried: {exc}")
        return RedirectResponse("/outbox", status_code=303)
    session.commit()
    state = ("queued again: the next delivery run sends it"
             if message.status == MessageStatus.QUEUED
             else f"{message.status}: {message.last_error}")
    flash(request, f"Message {message.id} {state}.")
    return RedirectResponse("/outbox", status_code=303)
