"""/messages: the outbox: list and read messages, queue a one-off, retry a dead letter.

Agents see and write only the messages of their own customers (the customer scope);
delivery itself is not an API action (``kithkin deliver`` or the server's schedule).
"""

from __future__ import annotations

from fastapi import APIRouter

from kithkin.api.deps import CustomerScopeDep, SessionDep, SettingsDep
from kithkin.api.pagination import DEFAULT_LIMIT, Page
from kithkin.api.params import AfterQuery, IdPath, IdQuery, LimitQuery
from kithkin.api.permissions import OutboxRead, OutboxWrite
from kithkin.outbox import service as outbox_service
from kithkin.outbox.models import MessageChannel, MessageStatus
from kithkin.outbox.schemas import MessageCreate, MessageRead, StatusCounts

router = APIRouter(prefix="/messages", tags=["outbox"])


@router.get("", response_model=Page[MessageRead])
def list_messages(session: SessionDep, _: OutboxRead, scope: CustomerScopeDep,
                  limit: LimitQuery = DEFAULT_LIMIT, after: AfterQuery = None,
                  customer_id: IdQuery = None, status: MessageStatus | None = None,
                  channel: MessageChannel | None = None,
                  reason: str | None = None) -> Page[MessageRead]:
    """Newest first; filter by status (e.g. ``dead``), customer, channel or reason."""
    rows, cursor = outbox_service.list_page(
        session=session, limit=limit, after=after, customer_id=customer_id,
        status=status.value if status else None, channel=channel.value if channel else None,
        reason=reason, scope=scope)
    return Page[MessageRead](items=[MessageRead.model_validate(r) for r in rows],
                             next_cursor=cursor, limit=limit)


@router.get("/counts", response_model=StatusCounts)
def counts(session: SessionDep, _: OutboxRead, scope: CustomerScopeDep) -> StatusCounts:
    """Messages per status (every status listed, zeros included)."""
    return StatusCounts(counts=outbox_service.counts_by_status(session=session, scope=scope))


@router.get("/{message_id:int}", response_model=MessageRead)
def get_message(message_id: IdPath, session: SessionDep, _: OutboxRead,
                scope: CustomerScopeDep) -> MessageRead:
    return MessageRead.model_validate(
        outbox_service.get(session=session, message_id=message_id, scope=scope))


@router.post("", response_model=MessageRead, status_code=201)
def queue(payload: MessageCreate, session: SessionDep, user: OutboxWrite,
          scope: CustomerScopeDep, settings: SettingsDep) -> MessageRead:
    """Queue a one-off message (reason ``person``). Consent, caps and rendering apply as
    for any message: the answer may be ``skipped`` with its reason, or ``dead`` with the
    template error; a repeated ``dedupe_key`` returns the first message."""
    scope.check(session=session, customer_id=payload.customer_id)
    message = outbox_service.queue_message(
        session=session, customer_id=payload.customer_id, template=payload.template,
        channel=payload.channel, purpose=payload.purpose, reason="person",
        context=payload.context, dedupe_key=payload.dedupe_key, created_by_id=user.id,
        settings=settings)
    session.commit()
    return MessageRead.model_validate(message)


@router.post("/{message_id:int}/retry", response_model=MessageRead)
def retry(message_id: IdPath, session: SessionDep, _: OutboxWrite, scope: CustomerScopeDep,
          settings: SettingsDep) -> MessageRead:
    """Queue a dead or failed message again, due now (409 for any other status)."""
    message = outbox_service.retry(session=session, message_id=message_id,
                                   settings=settings, scope=scope)
    session.commit()
    return MessageRead.model_validate(message)
