"""The Outbox page: counts by status, dead letters with a working Retry button (CSRF
checked), skips with their reason, transports that are off; admin and manager only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from kithkin.config import get_settings
from kithkin.database.core import build_engine, session_scope
from kithkin.outbox import service as outbox_service
from kithkin.outbox.models import Message
from tests.dashboard.seeding import form_token

Login = Callable[[str], TestClient]


def _queue(workspace: Path, ada: int) -> tuple[int, int]:
    engine = build_engine(f"sqlite:///{workspace / 'kithkin.db'}")
    try:
        with session_scope(engine) as session:
            dead = outbox_service.queue_message(session=session, customer_id=ada,
                                                template="later", settings=get_settings())
            skipped = outbox_service.queue_message(session=session, customer_id=ada,
                                                   template="winback", channel="sms",
                                                   settings=get_settings())
            return dead.id, skipped.id
    finally:
        engine.dispose()


def _status(workspace: Path, message_id: int) -> str | None:
    engine = build_engine(f"sqlite:///{workspace / 'kithkin.db'}")
    with Session(engine) as session:
        status = session.scalar(select(Message.status).where(Message.id == message_id))
    engine.dispose()
    return status


def test_dead_letter_retry_after_the_template_is_fixed(
        seeded: dict[str, int], workspace: Path, login: Login) -> None:
    dead, skipped = _queue(workspace, seeded["lovelace"])
    client = login("manager")
    page = client.get("/outbox")
    assert page.status_code == 200
    html = page.text
    assert "Dead letters" in html and f"Retry message {dead}" in html
    assert "template &#39;later&#39;: not found" in html
    assert "opted out" in html  # the skip and its reason
    assert "E-mail off:" in html and "KITHKIN_SMTP_HOST" in html
    no_csrf = client.post(f"/outbox/{dead}/retry")
    assert no_csrf.status_code in (400, 403)
    assert _status(workspace, dead) == "dead"

    (workspace / "templates").mkdir()
    (workspace / "templates" / "later.txt").write_text("Subject: Hello\nFixed.\n")
    answer = client.post(f"/outbox/{dead}/retry", data={"csrf_token": form_token(html)})
    assert answer.status_code == 303
    assert _status(workspace, dead) == "queued"
    assert f"Message {dead} queued again" in client.get("/outbox").text
    refused = client.post(f"/outbox/{skipped}/retry", data={"csrf_token": form_token(html)})
    assert refused.status_code == 303
    assert "Not retried" in client.get("/outbox").text


def test_only_admin_and_manager_open_it(seeded: dict[str, int], workspace: Path,
                                        login: Login) -> None:
    dead, _ = _queue(workspace, seeded["lovelace"])
    client = login("admin")
    assert client.get("/outbox").status_code == 200
    token = form_token(client.get("/outbox").text)
    client.post("/logout", data={"csrf_token": token})
    for role in ("analyst", "agent"):
        client = login(role)
        assert client.get("/outbox").status_code == 403
        token = form_token(client.get("/account/password").text)
        assert client.post(f"/outbox/{dead}/retry",
                           data={"csrf_token": token}).status_code == 403
        client.post("/logout", data={"csrf_token": token})
    assert _status(workspace, dead) == "dead"


def test_customer_360_shows_the_customers_messages(seeded: dict[str, int], workspace: Path,
                                                   login: Login) -> None:
    ada = seeded["lovelace"]
    client = login("manager")
    assert 'id="section-outbox"' not in client.get(f"/customers/{ada}").text  # none yet
    _queue(workspace, ada)
    html = client.get(f"/customers/{ada}").text
    assert 'id="section-outbox">Messages</h2>' in html
    assert "opted out" in html and "not found" in html


def _hold_back(workspace: Path, ada: int) -> None:
    """A firing whose message the queue-time checks refused (what a playbook run
    records instead of a skipped message)."""
    from datetime import date

    from kithkin.playbooks.models import PlaybookFiring

    engine = build_engine(f"sqlite:///{workspace / 'kithkin.db'}")
    try:
        with session_scope(engine) as session:
            session.add(PlaybookFiring(
                playbook="reactive", level="reactive", rule="after_purchase",
                trigger="purchase", customer_id=ada, occurrence="order:77",
                occurred_on=date(2026, 3, 9), fired_on=date(2026, 3, 10),
                skip_reason="message:no consent"))
    finally:
        engine.dispose()


def test_messages_held_back_by_playbooks_show_with_their_reason(
        seeded: dict[str, int], workspace: Path, login: Login) -> None:
    """No message is stored for them: the Outbox page and the customer's Messages
    section read the firing."""
    ada = seeded["lovelace"]
    _hold_back(workspace, ada)
    client = login("manager")
    outbox = client.get("/outbox").text
    assert "Held back by playbooks" in outbox
    assert f'href="/customers/{ada}"' in outbox and "no consent" in outbox
    page = client.get(f"/customers/{ada}").text
    assert "Held back by playbooks" in page
    assert "after_purchase (purchase: order:77)" in page and "no consent" in page
