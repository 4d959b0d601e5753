"""Delivering queued messages, each one once, across crashes and restarts.

The protocol (docs/outbox.md, "Exactly once"): a run *claims* a batch in its own
committed transaction (status SENDING, ``claimed_at`` and a ``claim_token``), sends the
messages one by one, and commits SENT (or the failure) right after each send, so at most
one message per run is ever "sent but not yet marked". A run that dies leaves its claimed
messages SENDING; once their lease has passed, the next run claims them again and
re-sends them with the same idempotency key (Message-ID, Idempotency-Key header), which
is how the receiver recognises the repeat.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from kithkin.config import Settings
from kithkin.customers.models import Customer
from kithkin.database.base import utcnow
from kithkin.database.core import session_factory
from kithkin.errors import ConfigurationError
from kithkin.outbox import consent_check
from kithkin.outbox.models import Message, MessageChannel, MessageStatus
from kithkin.outbox.transports import (
    DeliveryFailure,
    PermanentFailure,
    SmtpTransport,
    Transport,
    WebhookTransport,
)

log = logging.getLogger(__name__)

# Which transport carries each channel: SMS goes to the webhook receiver (the firm's SMS
# gateway integration), signed like any webhook.
TRANSPORT_OF = {MessageChannel.EMAIL: "smtp", MessageChannel.WEBHOOK: "webhook",
                MessageChannel.SMS: "webhook"}


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    skipped: int = 0  # consent withdrawn (or customer erased) while queued
    batches: int = 0
    # Why a transport is off (its channels' messages wait, untouched): name -> reason.
    unavailable: dict[str, str] = field(default_factory=dict)
    quiet_until: datetime | None = None
    errors: list[str] = field(default_factory=list)


def quiet_until(*, now: datetime, settings: Settings) -> datetime | None:
    """When quiet hours end, if ``now`` is inside them (start > end spans midnight)."""
    start, end = settings.outbox_quiet_start, settings.outbox_quiet_end
    if start is None or end is None or start == end:
        return None
    zone = ZoneInfo(settings.outbox_timezone)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    inside = start <= clock < end if start < end else (clock >= start or clock < end)
    if not inside:
        return None
    ends = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if ends <= local:
        ends += timedelta(days=1)
    return ends.astimezone(now.tzinfo)


def backoff(*, attempts: int, settings: Settings,
            rng: Callable[[], float] = random.random) -> timedelta:
    """Exponential backoff with jitter: base * 2^(attempts-1), capped, times a random
    factor in [0.5, 1) so a receiver that was down is not hit by every retry at once."""
    delay = min(settings.outbox_backoff_max_seconds,
                settings.outbox_backoff_seconds * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=delay * (0.5 + rng() / 2))


def check_transports(settings: Settings, report: DeliveryReport) -> dict[str, Transport]:
    """The configured transports (not connected yet); the others' reasons go in
    ``report.unavailable``."""
    return _open_transports(settings, report)


def _open_transports(settings: Settings,
                     report: DeliveryReport) -> dict[str, Transport]:
    transports: dict[str, Transport] = {}
    for name, build in (("smtp", SmtpTransport), ("webhook", WebhookTransport)):
        try:
            transports[name] = build(settings)
        except ConfigurationError as exc:
            report.unavailable[name] = str(exc)
    return transports


def _due(now: datetime, lease: timedelta) -> ColumnElement[bool]:
    return or_(
        and_(Message.status.in_((MessageStatus.QUEUED, MessageStatus.FAILED)),
             or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now)),
        and_(Message.status == MessageStatus.SENDING, Message.claimed_at < now - lease))


def claim(*, factory: sessionmaker[Session], channels: Sequence[str], limit: int,
          settings: Settings, now: datetime | None = None) -> tuple[str, list[int]]:
    """Claim up to ``limit`` due messages of ``channels`` in one committed statement.

    The due condition is repeated on the UPDATE itself, so two runs racing for the same
    rows cannot both win: PostgreSQL re-checks it on the row it locks, SQLite runs one
    writer at a time. Attempts are counted at the claim, so a message whose send keeps
    killing the process still ends dead instead of looping forever.
    """
    now = now or utcnow()
    token = uuid.uuid4().hex
    due = _due(now, timedelta(seconds=settings.outbox_lease_seconds))
    with factory() as session, session.begin():
        ids = select(Message.id).where(due, Message.channel.in_(channels)) \
            .order_by(Message.id).limit(limit).scalar_subquery()
        session.execute(update(Message).where(Message.id.in_(ids), due).values(
            status=MessageStatus.SENDING, claimed_at=now, claim_token=token,
            attempts=Message.attempts + 1).execution_options(synchronize_session=False))
    with factory() as session:
        claimed = list(session.scalars(select(Message.id).where(
            Message.claim_token == token).order_by(Message.id)))
    return token, claimed


def _finish(session: Session, message: Message, token: str, **values: object) -> None:
    """Record the outcome, only if this run still holds the claim (a run that outlived
    its lease must not overwrite the newer claimant's result)."""
    session.execute(update(Message).where(Message.id == message.id,
                                          Message.claim_token == token)
                    .values(**values).execution_options(synchronize_session=False))
    session.commit()


def _withdrawn(session: Session, message: Message, token: str,
               report: DeliveryReport) -> bool:
    """Consent is checked again just before sending: an opt-out or an erasure that
    arrived while the message waited (quiet hours, retries) wins over the queue."""
    customer = (session.get(Customer, message.customer_id)
                if message.customer_id is not None else None)
    reason = consent_check.skip_reason(session=session, customer=customer,
                                       channel=message.channel, purpose=message.purpose)
    if reason is None:
        return False
    _finish(session, message, token, status=MessageStatus.SKIPPED,
            skip_reason=f"{reason} (at delivery)", claim_token=None)
    report.skipped += 1
    return True


def send_one(*, session: Session, message: Message, token: str, transport: Transport,
             settings: Settings, report: DeliveryReport,
             now: datetime | None = None) -> None:
    """Send one claimed message and commit its outcome at once (``now``: the clock for
    the retry time, tests)."""
    try:
        transport.send(message)
    except DeliveryFailure as exc:
        now = now or utcnow()
        error = str(exc)[:2000]
        permanent = isinstance(exc, PermanentFailure)
        if permanent or message.attempts >= settings.outbox_max_attempts:
            prefix = "" if permanent else f"gave up after {message.attempts} attempts: "
            _finish(session, message, token, status=MessageStatus.DEAD,
                    last_error=prefix + error, claim_token=None)
            report.dead += 1
        else:
            _finish(session, message, token, status=MessageStatus.FAILED, last_error=error,
                    next_attempt_at=now + backoff(attempts=message.attempts,
                                                  settings=settings),
                    claim_token=None)
            report.retrying += 1
        report.errors.append(f"message {message.id}: {error}")
        return
    _finish(session, message, token, status=MessageStatus.SENT, sent_at=utcnow(),
            claim_token=None)
    report.sent += 1


def deliver(*, settings: Settings, engine: Engine | None = None, limit: int | None = None,
            once: bool = False, now: datetime | None = None,
            transports: dict[str, Transport] | None = None) -> DeliveryReport:
    """Send due messages: batches of ``settings.outbox_batch_size`` until none is due
    (``once``: one batch), at most ``limit`` in all. Nothing is sent in quiet hours.

    Messages of a channel whose transport is not configured stay queued, untouched, and
    the report says why; retried and dead messages are counted and their errors listed.
    """
    report = DeliveryReport()
    report.quiet_until = quiet_until(now=now or utcnow(), settings=settings)
    if report.quiet_until is not None:
        return report
    own = transports is None
    transports = _open_transports(settings, report) if transports is None else transports
    channels = [c.value for c, t in TRANSPORT_OF.items() if t in transports]
    factory = session_factory(engine)
    try:
        while channels:
            size = settings.outbox_batch_size
            if limit is not None:
                size = min(size, limit - report.claimed)
                if size <= 0:
                    break
            token, ids = claim(factory=factory, channels=channels, limit=size,
                               settings=settings, now=now)
            if not ids:
                break
            report.claimed += len(ids)
            report.batches += 1
            with factory() as session:
                batch = session.scalars(select(Message).where(
                    Message.claim_token == token).order_by(Message.id)).all()
                session.commit()  # end the read: each outcome commits on its own
                for message in batch:
                    if _withdrawn(session, message, token, report):
                        continue
                    send_one(session=session, message=message, token=token,
                             transport=transports[TRANSPORT_OF[MessageChannel(
                                 message.channel)]], settings=settings, report=report,
                             now=now)
            if once:
                break
    finally:
        if own:
            for transport in transports.values():
                transport.close()
    return report
