"""Queuing: consent and erasure, address, caps, rendering (memory, sandbox, escaping,
workspace overrides), dead on a broken template, dedupe idempotency."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from kithkin.config import Settings
from kithkin.database.core import session_scope
from kithkin.errors import ConflictError
from kithkin.outbox import service as outbox_service
from kithkin.outbox.models import Message, MessageStatus
from kithkin.outbox.render import builtin_names
from kithkin.preferences import service as preference_service
from kithkin.preferences.schemas import PreferencesUpdate
from tests.outbox.conftest import AddCustomer, add_order

CONTRACT_TEMPLATES = {"after_purchase_reactive", "checkin_accountable",
                      "satisfaction_proactive", "new_uses_proactive", "offer_partnership",
                      "winback", "idea_status", "generic"}


def queue(engine: Engine, settings: Settings, customer_id: int | None, **kwargs: object
          ) -> Message:
    kwargs.setdefault("template", "winback")
    with session_scope(engine) as session:
        return outbox_service.queue_message(session=session, customer_id=customer_id,
                                            settings=settings, **kwargs)  # type: ignore[arg-type]


def test_a_service_opt_out_silences_service_messages(
        sqlite_engine: Engine, settings: Settings, add_customer: AddCustomer) -> None:
    customer = add_customer("opted_out", purpose="service")
    assert queue(sqlite_engine, settings, customer, purpose="service").skip_reason == \
        "opted out"


@pytest.mark.parametrize(("consent", "purpose", "erased", "expected"), [
    ("granted", "marketing", False, None),
    (None, "marketing", False, "no consent"),
    (None, "service", False, None),
    # a marketing opt-out does not silence the answer a customer waits for
    ("opted_out", "service", False, None),
    ("denied", "marketing", False, "consent denied"),
    ("granted", "service", True, "customer erased"),
])
def test_consent_decides_queue_or_skip(sqlite_engine: Engine, settings: Settings,
                                       add_customer: AddCustomer, consent: str | None,
                                       purpose: str, erased: bool,
                                       expected: str | None) -> None:
    customer = add_customer(consent, erased=erased)
    message = queue(sqlite_engine, settings, customer, purpose=purpose)
    assert message.skip_reason == expected
    assert message.status == (MessageStatus.QUEUED if expected is None
                              else MessageStatus.SKIPPED)
    assert (message.body is None) == (expected is not None)  # skipped: nothing rendered


def test_sms_needs_sms_consent_and_a_phone(sqlite_engine: Engine, settings: Settings,
                                           add_customer: AddCustomer) -> None:
    email_only = add_customer("granted")
    assert queue(sqlite_engine, settings, email_only, channel="sms").skip_reason == \
        "no consent"
    no_phone = add_customer("granted", channel="sms")
    assert queue(sqlite_engine, settings, no_phone, channel="sms").skip_reason == \
        "no phone number"
    with_phone = add_customer("granted", channel="sms", phone_e164="+33612345678")
    message = queue(sqlite_engine, settings, with_phone, channel="sms")
    assert (message.status, message.recipient) == (MessageStatus.QUEUED, "+33612345678")


def test_frequency_cap_counts_marketing_only(sqlite_engine: Engine, settings: Settings,
                                             add_customer: AddCustomer) -> None:
    capped = settings.model_copy(update={"outbox_cap_messages": 2, "outbox_cap_days": 7})
    customer = add_customer()
    statuses = [queue(sqlite_engine, capped, customer).skip_reason for _ in range(3)]
    assert statuses == [None, None, "frequency cap (2 per 7 days)"]
    service = queue(sqlite_engine, capped, customer, purpose="service")
    assert service.status == MessageStatus.QUEUED


def test_memory_renders_name_last_purchase_and_escapes_html(
        sqlite_engine: Engine, settings: Settings, add_customer: AddCustomer) -> None:
    customer = add_customer(first_name="<b>Ada</b>")
    add_order(sqlite_engine, customer, product="Blue Kettle")
    message = queue(sqlite_engine, settings, customer, template="checkin_accountable")
    assert message.status == MessageStatus.QUEUED, message.last_error
    assert "Blue Kettle" in (message.body or "")
    assert "Hello <b>Ada</b>" in (message.body or "")  # text part: as typed
    assert "&lt;b&gt;Ada&lt;/b&gt;" in (message.body_html or "")  # HTML part: escaped
    assert "<b>Ada" not in (message.body_html or "")
    winback = queue(sqlite_engine, settings, customer, template="winback")
    assert "02 March 2026" in (winback.body or "")


def test_preferences_and_recommendations_when_they_exist(
        sqlite_engine: Engine, settings: Settings, add_customer: AddCustomer) -> None:
    customer = add_customer()
    with session_scope(sqlite_engine) as session:
        preference_service.save(session=session, customer_id=customer,
                                data=PreferencesUpdate(categories=["tea", "kettles"]),
                                staff_user_id=None)
    message = queue(sqlite_engine, settings, customer, template="offer_partnership",
                    context={"recommendations": [{"name": "Green Teapot"}]})
    assert "Because you like tea, kettles" in (message.body or "")
    assert "- Green Teapot" in (message.body or "")
    plain = queue(sqlite_engine, settings, add_customer(email="b@example.com"),
                  template="offer_partnership")
    assert "Because you like" not in (plain.body or "")
    assert "Picked for you" not in (plain.body or "")


def test_every_contract_template_renders(sqlite_engine: Engine, settings: Settings,
                                         add_customer: AddCustomer) -> None:
    assert set(builtin_names()) >= CONTRACT_TEMPLATES
    customer = add_customer()
    extra = {"generic": {"subject": "Hi", "body": "Text"},
             "idea_status": {"idea_status": "accepted", "idea_title": "Bigger lids"}}
    for name in sorted(CONTRACT_TEMPLATES):
        message = queue(sqlite_engine, settings, customer, template=name,
                        purpose="service", context=extra.get(name))
        assert message.status == MessageStatus.QUEUED, (name, message.last_error)
        assert message.subject and message.body and message.body_html


@pytest.mark.parametrize(("template", "context", "error"), [
    ("nope", None, "not found"),
    ("generic", {"body": "no subject given"}, "UndefinedError"),
    ("../etc", None, "not a template name"),
])
def test_a_template_that_fails_makes_the_message_dead(
        sqlite_engine: Engine, settings: Settings, add_customer: AddCustomer,
        template: str, context: dict[str, str] | None, error: str) -> None:
    message = queue(sqlite_engine, settings, add_customer(), template=template,
                    context=context)
    assert message.status == MessageStatus.DEAD
    assert error in (message.last_error or "")


def test_workspace_templates_override_and_are_sandboxed(
        sqlite_engine: Engine, settings: Settings, add_customer: AddCustomer) -> None:
    folder = settings.templates_dir
    folder.mkdir(parents=True)
    (folder / "winback.txt").write_text("Subject: Come back {{ customer.first_name }}\n"
                                        "Our own words.\n")
    (folder / "evil.txt").write_text(
        "Subject: x\n{{ customer.__class__.__mro__[1].__subclasses__() }}\n")
    customer = add_customer()
    mine = queue(sqlite_engine, settings, customer, template="winback")
    assert (mine.subject, mine.body) == ("Come back Ada", "Our own words.\n")
    evil = queue(sqlite_engine, settings, customer, template="evil")
    assert evil.status == MessageStatus.DEAD
    assert "SecurityError" in (evil.last_error or "") or "unsafe" in (evil.last_error or "")


def test_subject_cannot_inject_headers(sqlite_engine: Engine, settings: Settings,
                                       add_customer: AddCustomer) -> None:
    message = queue(sqlite_engine, settings, add_customer(), template="generic",
                    context={"subject": "Hi\nBcc: victim@example.com", "body": "x"})
    assert message.subject == "Hi Bcc: victim@example.com"
    assert message.body == "x\n"


def test_dedupe_key_returns_the_first_message(sqlite_engine: Engine, settings: Settings,
                                              add_customer: AddCustomer) -> None:
    customer = add_customer()
    first = queue(sqlite_engine, settings, customer, dedupe_key="playbook:x:1")
    again = queue(sqlite_engine, settings, customer, dedupe_key="playbook:x:1",
                  template="generic")
    assert again.id == first.id
    with session_scope(sqlite_engine) as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 1


def test_retry_only_dead_or_failed_and_rerenders(sqlite_engine: Engine, settings: Settings,
                                                 add_customer: AddCustomer) -> None:
    customer = add_customer()
    dead = queue(sqlite_engine, settings, customer, template="later")
    skipped = queue(sqlite_engine, settings, add_customer(None, email="x@example.com"))
    settings.templates_dir.mkdir(parents=True)
    (settings.templates_dir / "later.txt").write_text("Subject: Now\nFixed.\n")
    with session_scope(sqlite_engine) as session:
        retried = outbox_service.retry(session=session, message_id=dead.id,
                                       settings=settings)
        assert (retried.status, retried.body, retried.attempts) == (
            MessageStatus.QUEUED, "Fixed.\n", 0)
        assert retried.idempotency_key == dead.idempotency_key
        with pytest.raises(ConflictError, match="only dead or failed"):
            outbox_service.retry(session=session, message_id=skipped.id, settings=settings)
