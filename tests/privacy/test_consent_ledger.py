"""The consent ledger (#17 part 1): every statement kept, the current state derived from
it, imports record consent with its source and add nothing on a re-run.

On main, opting out and granting again overwrote the opt-out: no history survived."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from kithkin.cli.main import app
from kithkin.customers.models import Consent, Customer
from kithkin.database.core import session_scope
from kithkin.errors import ValidationError
from kithkin.imports.ingest import ingest_file
from kithkin.imports.ingest.options import load_preset
from kithkin.privacy import cli as privacy_cli
from kithkin.privacy import consent
from kithkin.privacy.models import ConsentEvent, ConsentSource


def _customer(engine: Engine, customer_id: int = 1) -> int:
    with session_scope(engine) as session:
        session.add(Customer(id=customer_id, first_name="Ann"))
    return customer_id


def _change(customer_id: int, status: str, **kw: object) -> consent.ConsentChange:
    values: dict[str, object] = {"customer_id": customer_id, "channel": "email",
                                 "status": status, "source": ConsentSource.STAFF, **kw}
    return consent.ConsentChange(**values)  # type: ignore[arg-type]


def test_withdrawal_then_grant_keeps_both(store_engine: Engine) -> None:
    cid = _customer(store_engine)
    with session_scope(store_engine) as session:
        consent.record(session=session, change=_change(cid, "granted", wording="News by mail"))
        consent.record(session=session, change=_change(cid, "opted_out"))
        consent.record(session=session, change=_change(cid, "granted", source="form",
                                                       evidence="form 7, 10.0.0.1"))
        consent.record(session=session, change=_change(cid, "denied", purpose="profiling"))
    with session_scope(store_engine) as session:
        events = consent.history(session=session, customer_id=cid)
        assert [(e.purpose, e.status, e.source) for e in reversed(events)] == [
            ("marketing", "granted", "staff"), ("marketing", "opted_out", "staff"),
            ("marketing", "granted", "form"), ("profiling", "denied", "staff")]
        state = {(c.channel, c.purpose): c.status for c in consent.current(
            session=session, customer_id=cid)}
        assert state == {("email", "marketing"): "granted", ("email", "profiling"): "denied"}
        assert consent.consenting(session=session, channel="email") == [cid]
        assert consent.consenting(session=session, channel="email",
                                  purpose="profiling") == []
        assert consent.consenting(session=session, channel="sms") == []  # never asked


def test_an_older_statement_does_not_overturn_a_newer_one(sqlite_engine: Engine) -> None:
    cid = _customer(sqlite_engine)
    with session_scope(sqlite_engine) as session:
        consent.record(session=session, change=_change(cid, "opted_out"))
        consent.record(session=session, change=_change(
            cid, "granted", source="import", occurred_at=datetime(2020, 1, 1, tzinfo=UTC)))
        assert [c.status for c in consent.current(session=session, customer_id=cid)] == [
            "opted_out"]
        assert len(consent.history(session=session, customer_id=cid)) == 2


def test_unknown_values_are_refused(sqlite_engine: Engine) -> None:
    cid = _customer(sqlite_engine)
    with session_scope(sqlite_engine) as session:
        for bad in ({"channel": "fax"}, {"purpose": "resale"}, {"source": "rumour"}):
            with pytest.raises(ValidationError, match=next(iter(bad))):
                consent.record(session=session, change=_change(cid, "granted", **bad))


def test_import_records_consent_with_source_and_is_idempotent(store_engine: Engine,
                                                              tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "source,external_id,email,consent_email,consent_sms_service,consent_email_profiling,"
        "consent_wording,consent_evidence,consent_at\n"
        "shop,A,a@example.com,yes,granted,no,Send me offers,signup form,2024-05-01T10:00:00Z\n"
        "shop,B,b@example.com,unsubscribed,,,,,\n", encoding="utf-8")
    for _ in range(2):
        report = ingest_file(kind="customers", path=path, engine=store_engine)
        assert report.rows_rejected == 0
    with session_scope(store_engine) as session:
        rows = session.execute(select(ConsentEvent.channel, ConsentEvent.purpose,
                                      ConsentEvent.status, ConsentEvent.source,
                                      ConsentEvent.wording, ConsentEvent.evidence)
                               .order_by(ConsentEvent.id)).all()
        assert sorted(tuple(r) for r in rows) == sorted([
            ("email", "marketing", "granted", "import", "Send me offers", "signup form"),
            ("sms", "service", "granted", "import", "Send me offers", "signup form"),
            ("email", "profiling", "denied", "import", "Send me offers", "signup form"),
            ("email", "marketing", "opted_out", "import", None, None)])
        assert session.scalar(select(func.count()).select_from(Consent)) == 4
        a_time = session.scalars(select(Consent.updated_at).where(
            Consent.channel == "sms")).one()
        assert a_time.astimezone(UTC) == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_cli_records_and_shows_history(sqlite_engine: Engine,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(privacy_cli.console, "width", 240)  # table cells unwrapped
    cid = _customer(sqlite_engine, 5)
    runner = CliRunner()
    result = runner.invoke(app, ["privacy", "record-consent", str(cid), "--channel", "post",
                                 "--status", "opted_out", "--wording", "No catalogues"])
    assert result.exit_code == 0, result.output
    shown = runner.invoke(app, ["privacy", "consents", str(cid)])
    assert shown.exit_code == 0 and "No catalogues" in shown.output
    assert "opted_out" in shown.output
    bad = runner.invoke(app, ["privacy", "record-consent", str(cid), "--channel", "post",
                              "--status", "granted", "--source", "rumour"])
    assert bad.exit_code == 2


def test_shopify_customers_preset_records_marketing_consent(sqlite_engine: Engine,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "customers_export.csv"
    path.write_text(
        "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,"
        "Accepts SMS Marketing,Phone,Default Address Country Code\n"
        "7001,Ann,Lee,ann@example.com,yes,no,+44 20 7946 0018,GB\n", encoding="utf-8")
    report = ingest_file(kind="customers", path=path, engine=sqlite_engine,
                         mapping=load_preset("shopify-customers", kind="customers"))
    assert report.rows_rejected == 0 and report.inserted == 1
    with session_scope(sqlite_engine) as session:
        events = session.execute(select(ConsentEvent.channel, ConsentEvent.status,
                                        ConsentEvent.source_detail)).all()
        assert sorted(tuple(e) for e in events) == [
            ("email", "granted", "import from shopify"), ("sms", "denied", "import from shopify")]
