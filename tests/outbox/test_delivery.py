"""Delivery to a real local SMTP server and HTTP receiver: signatures, idempotency keys,
bounces and 4xx dead, 5xx retried with backoff, attempts exhausted, quiet hours, leases,
and no webhook without a secret."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from pydantic import SecretStr
from sqlalchemy import Engine, select, update

from kithkin.config import Settings
from kithkin.customers.models import Consent, Customer
from kithkin.database.core import session_scope
from kithkin.outbox import delivery
from kithkin.outbox import service as outbox_service
from kithkin.outbox.models import Message, MessageStatus
from kithkin.outbox.signing import verify
from tests.outbox.conftest import SECRET, AddCustomer
from tests.outbox.receivers import Inbox

Receivers = tuple[int, Inbox, str, Inbox]


def queue(engine: Engine, settings: Settings, customer_id: int, channel: str = "email",
          **kwargs: object) -> Message:
    with session_scope(engine) as session:
        return outbox_service.queue_message(
            session=session, customer_id=customer_id, template="winback", channel=channel,
            purpose="service", settings=settings, **kwargs)  # type: ignore[arg-type]


def stored(engine: Engine, message_id: int) -> Message:
    with session_scope(engine) as session:
        message = session.get(Message, message_id)
        assert message is not None
        session.expunge(message)
        return message


def test_email_and_webhook_delivered_once_with_their_keys(
        sqlite_engine: Engine, settings: Settings, add_customer: AddCustomer,
        receivers: Receivers) -> None:
    _, mail, _, hooks = receivers
    customer = add_customer()
    email = queue(sqlite_engine, settings, customer)
    hook = queue(sqlite_engine, settings, customer, channel="webhook")
    report = delivery.deliver(settings=settings, engine=sqlite_engine)
    assert (report.claimed, report.sent, report.dead, report.retrying) == (2, 2, 0, 0)
    again = delivery.deliver(settings=settings, engine=sqlite_engine)
    assert again.claimed == 0  # sent is sent: a second run sends nothing
    assert mail.raw == {f"<{email.idempotency_key}@example.com>": 1}
    received = mail.accepted[f"<{email.idempotency_key}@example.com>"]
    assert received["to"] == ["ada@example.com"]
    assert received["subject"] == "We miss you, Ada"
    assert received["message"]["Idempotency-Key"] == email.idempotency_key
    assert received["message"].get_body(("html",)) is not None
    assert hooks.raw == {hook.idempotency_key: 1} and hooks.bad_signatures == 0
    assert hooks.accepted[hook.idempotency_key]["subject"] == "We miss you, Ada"
    assert stored(sqlite_engine, email.id).status == MessageStatus.SENT
    assert stored(sqlite_engine, hook.id).sent_at is not None


def test_signature_is_hmac_over_timestamp_and_body() -> None:
    from kithkin.outbox.signing import sign

    header = sign(secret=SECRET, body=b'{"a":1}', timestamp=1_700_000_000)
    assert verify(secret=SECRET, body=b'{"a":1}', header=header, now=1_700_000_100)
    assert not verify(secret=SECRET, body=b'{"a":2}', header=header, now=1_700_000_100)
    assert not verify(secret="x" * 40, body=b'{"a":1}', header=header, now=1_700_000_100)
    assert not verify(secret=SECRET, body=b'{"a":1}', header=header, now=1_700_009_999)


def test_bounce_and_webhook_4xx_are_dead_with_the_receivers_words(
        sqlite_engine: Engine, settings: Settings, add_customer: AddCustomer) -> None:
    bounced = queue(sqlite_engine, settings, add_customer(email="bounce@example.com"))
    rejected = queue(sqlite_engine, settings, add_customer(email="reject@example.com"),
                     channel="webhook")
    report = delivery.deliver(settings=settings, engine=sqlite_engine)
    assert report.dead == 2
    assert stored(sqlite_engine, bounced.id).last_error == \
        "bounce: 550 5.1.1 mailbox unavailable (bounce@example.com)"
    dead = stored(sqlite_engine, rejected.id)
    assert (dead.status, dead.last_error) == (MessageStatus.DEAD,
                                              "webhook 400: unknown recipient")


def test_5xx_retries_with_backoff_then_dies(sqlite_engine: Engine, settings: Settings,
                                            add_customer: AddCustomer) -> None:
    message = queue(sqlite_engine, settings, add_customer(email="flaky@example.com"),
                    channel="webhook")
    start = datetime.now(UTC)
    delivery.deliver(settings=settings, engine=sqlite_engine)
    first = stored(sqlite_engine, message.id)
    assert (first.status, first.attempts, first.last_error) == (
        MessageStatus.FAILED, 1, "webhook 503: try later")
    assert first.next_attempt_at is not None
    # base 10 s, jitter in [0.5, 1): due 5 to 10 s later, not now.
    assert timedelta(seconds=4.9) <= first.next_attempt_at - start <= timedelta(seconds=11)
    assert delivery.deliver(settings=settings, engine=sqlite_engine).claimed == 0
    later = first.next_attempt_at + timedelta(seconds=1)
    delivery.deliver(settings=settings, engine=sqlite_engine, now=later)
    second = stored(sqlite_engine, message.id)
    assert second.attempts == 2 and second.next_attempt_at is not None
    assert second.next_attempt_at - later >= timedelta(seconds=9.9)  # doubled
    delivery.deliver(settings=settings, engine=sqlite_engine,
                     now=second.next_attempt_at + timedelta(seconds=1))
    last = stored(sqlite_engine, message.id)
    assert last.status == MessageStatus.DEAD  # outbox_max_attempts = 3
    assert last.last_error == "gave up after 3 attempts: webhook 503: try later"


def test_backoff_is_capped_and_jittered(settings: Settings) -> None:
    assert delivery.backoff(attempts=1, settings=settings, rng=lambda: 0.0) == \
        timedelta(seconds=5)
    assert delivery.backoff(attempts=4, settings=settings, rng=lambda: 0.999999) <= \
        timedelta(seconds=80)
    capped = settings.model_copy(update={"outbox_backoff_max_seconds": 30})
    assert delivery.backoff(attempts=20, settings=capped, rng=lambda: 0.0) == \
        timedelta(seconds=15)


def test_quiet_hours_send_nothing_until_they_end(sqlite_engine: Engine, settings: Settings,
                                                 add_customer: AddCustomer,
                                                 receivers: Receivers) -> None:
    quiet = settings.model_copy(update={"outbox_quiet_start": time(21),
                                        "outbox_quiet_end": time(8),
                                        "outbox_timezone": "Europe/Paris"})
    queue(sqlite_engine, quiet, add_customer())
    night = datetime(2026, 1, 15, 22, 30, tzinfo=UTC)  # 23:30 in Paris
    report = delivery.deliver(settings=quiet, engine=sqlite_engine, now=night)
    assert report.claimed == 0
    assert report.quiet_until == datetime(2026, 1, 16, 7, 0, tzinfo=UTC)  # 08:00 Paris
    assert receivers[1].raw == {}
    morning = datetime(2026, 1, 16, 7, 5, tzinfo=UTC)
    assert delivery.deliver(settings=quiet, engine=sqlite_engine, now=morning).sent == 1


def test_no_webhook_without_a_strong_secret(sqlite_engine: Engine, settings: Settings,
                                            add_customer: AddCustomer,
                                            receivers: Receivers) -> None:
    customer = add_customer()
    hook = queue(sqlite_engine, settings, customer, channel="webhook")
    email = queue(sqlite_engine, settings, customer)
    for secret in (None, SecretStr("short-secret")):
        weak = settings.model_copy(update={"webhook_secret": secret})
        report = delivery.deliver(settings=weak, engine=sqlite_engine)
        assert "signing secret" in report.unavailable["webhook"]
    assert stored(sqlite_engine, hook.id).status == MessageStatus.QUEUED  # waits, untouched
    assert stored(sqlite_engine, email.id).status == MessageStatus.SENT
    assert receivers[3].raw == {}


def test_a_claim_past_its_lease_is_resent_with_the_same_key(
        sqlite_engine: Engine, settings: Settings, add_customer: AddCustomer,
        receivers: Receivers) -> None:
    message = queue(sqlite_engine, settings, add_customer(), channel="webhook")
    factory = delivery.session_factory(sqlite_engine)
    token, ids = delivery.claim(factory=factory, channels=["webhook"], limit=10,
                                settings=settings)
    assert ids == [message.id]  # ...and the process dies here, before sending
    assert delivery.deliver(settings=settings, engine=sqlite_engine).claimed == 0  # leased
    after_lease = datetime.now(UTC) + timedelta(seconds=settings.outbox_lease_seconds + 1)
    report = delivery.deliver(settings=settings, engine=sqlite_engine, now=after_lease)
    assert report.sent == 1
    assert receivers[3].raw == {message.idempotency_key: 1}
    # The first claimant, back from the dead, cannot overwrite the newer result.
    with session_scope(sqlite_engine) as session:
        session.execute(update(Message).where(Message.id == message.id,
                                              Message.claim_token == token)
                        .values(status=MessageStatus.FAILED))
        assert session.scalar(select(Message.status).where(Message.id == message.id)) == \
            MessageStatus.SENT
    assert stored(sqlite_engine, message.id).attempts == 2


def test_limit_and_once(sqlite_engine: Engine, settings: Settings,
                        add_customer: AddCustomer) -> None:
    small = settings.model_copy(update={"outbox_batch_size": 2})
    customer = add_customer()
    for _ in range(5):
        queue(sqlite_engine, small, customer)
    assert delivery.deliver(settings=small, engine=sqlite_engine, once=True).sent == 2
    assert delivery.deliver(settings=small, engine=sqlite_engine, limit=1).sent == 1
    report = delivery.deliver(settings=small, engine=sqlite_engine)
    assert (report.sent, report.batches) == (2, 1)


def test_consent_withdrawn_while_queued_wins(sqlite_engine: Engine, settings: Settings,
                                             add_customer: AddCustomer,
                                             receivers: Receivers) -> None:
    opted = add_customer()
    erased = add_customer(email="grace@example.com")
    first = queue(sqlite_engine, settings, opted)
    second = queue(sqlite_engine, settings, erased)
    with session_scope(sqlite_engine) as session:
        # (service messages: the customer withdraws their service consent)
        session.execute(update(Consent).where(Consent.customer_id == opted)
                        .values(status="opted_out", purpose="service"))
        session.execute(update(Customer).where(Customer.id == erased)
                        .values(erased_at=datetime.now(UTC)))
    report = delivery.deliver(settings=settings, engine=sqlite_engine)
    assert (report.claimed, report.sent, report.skipped) == (2, 0, 2)
    assert stored(sqlite_engine, first.id).skip_reason == "opted out (at delivery)"
    assert stored(sqlite_engine, second.id).skip_reason == "customer erased (at delivery)"
    assert receivers[1].raw == {}


def test_smtp_server_down_is_retried_not_a_bounce(sqlite_engine: Engine, settings: Settings,
                                                  add_customer: AddCustomer) -> None:
    from tests.outbox.receivers import free_port

    down = settings.model_copy(update={"smtp_port": free_port()})
    message = queue(sqlite_engine, down, add_customer())
    report = delivery.deliver(settings=down, engine=sqlite_engine)
    assert report.retrying == 1
    failed = stored(sqlite_engine, message.id)
    assert failed.status == MessageStatus.FAILED
    assert (failed.last_error or "").startswith("SMTP connection to 127.0.0.1: ")


def test_message_id_domain_from_a_display_name_address(settings: Settings) -> None:
    from kithkin.outbox.transports import message_id

    named = settings.model_copy(update={"smtp_from": "The Shop <news@shop.example>"})
    message = Message(idempotency_key="abc123")
    assert message_id(message, named) == "<abc123@shop.example>"
