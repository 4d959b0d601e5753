"""`kithkin deliver` and `kithkin messages list|show|retry` on a real store."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from kithkin.cli.main import app
from kithkin.config import get_settings
from kithkin.database.core import session_scope
from kithkin.outbox import service as outbox_service
from tests.outbox.conftest import SECRET, AddCustomer
from tests.outbox.receivers import Inbox

runner = CliRunner()


def test_deliver_then_list_show_retry(sqlite_engine: Engine, add_customer: AddCustomer,
                                      receivers: tuple[int, Inbox, str, Inbox],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    port, mail, url, _ = receivers
    for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port),
                        "SMTP_TLS": "none", "WEBHOOK_URL": url}.items():
        monkeypatch.setenv(f"KITHKIN_{name}", value)
    get_settings.cache_clear()
    customer = add_customer()
    with session_scope(sqlite_engine) as session:
        sent = outbox_service.queue_message(session=session, customer_id=customer,
                                            template="winback", settings=get_settings())
        waiting = outbox_service.queue_message(session=session, customer_id=customer,
                                               template="winback", channel="webhook",
                                               purpose="service", settings=get_settings())
        broken = outbox_service.queue_message(session=session, customer_id=customer,
                                              template="missing", purpose="service",
                                              settings=get_settings())
    result = runner.invoke(app, ["deliver"])
    assert result.exit_code == 0, result.output
    assert "webhook off:" in result.output and "KITHKIN_WEBHOOK_SECRET" in result.output
    assert "1 claimed: 1 sent, 0 to retry, 0 dead" in result.output
    assert len(mail.accepted) == 1

    listed = runner.invoke(app, ["messages", "list", "--format", "csv"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert lines[0].startswith("id,customer id,channel,template,status")
    assert [line.split(",")[4] for line in lines[1:]] == ["dead", "queued", "sent"]
    dead_only = runner.invoke(app, ["messages", "list", "--status", "dead", "--format",
                                    "csv"])
    assert len(dead_only.output.strip().splitlines()) == 2

    shown = runner.invoke(app, ["messages", "show", str(sent.id)])
    assert "subject: We miss you, Ada" in shown.output and sent.idempotency_key in shown.output
    assert runner.invoke(app, ["messages", "retry", str(waiting.id)]).exit_code == 1
    retried = runner.invoke(app, ["messages", "retry", str(broken.id)])
    assert retried.exit_code == 0
    assert f"message {broken.id} is dead again: template" in retried.output

    monkeypatch.setenv("KITHKIN_WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()
    assert "1 claimed: 1 sent" in runner.invoke(app, ["deliver", "--once"]).output
