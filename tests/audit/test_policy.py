"""The retention policy: dry run counts without changing, a run anonymises or deletes
what the settings say and nothing else, re-runs are no-ops, every run is audited."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from kithkin.audit.models import AuditLog
from kithkin.cli.main import app as cli
from kithkin.config import Settings, get_settings
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.interactions.models import Interaction
from kithkin.policy import service as policy_service
from kithkin.prospects.models import Prospect

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
runner = CliRunner()


def _seed(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        customer = Customer(first_name="Kept", country="FR")
        session.add(customer)
        session.flush()
        old = Prospect(source="fair", external_id="old@example.com", first_name="Old",
                       email="old@example.com", captured_at=NOW - timedelta(days=400))
        converted = Prospect(source="fair", external_id="conv", first_name="Conv",
                             status="converted", converted_customer_id=customer.id,
                             captured_at=NOW - timedelta(days=400))
        recent = Prospect(source="fair", external_id="new", first_name="New",
                          captured_at=NOW - timedelta(days=30))
        session.add_all([old, converted, recent])
        session.flush()
        for n, (when, prospect) in enumerate([(NOW - timedelta(days=365 * 4), None),
                                              (NOW - timedelta(days=30), None),
                                              (NOW - timedelta(days=30), old.id)]):
            session.add(Interaction(source="crm", external_id=f"i{n}",
                                    customer_id=None if prospect else customer.id,
                                    prospect_id=prospect, occurred_at=when,
                                    direction="inbound", kind="inquiry",
                                    subject="Subject", text="Free text"))
        return {"old": old.id, "converted": converted.id, "recent": recent.id}


def _settings(**values: object) -> Settings:
    return get_settings().model_copy(update=values)


def test_months_before_clamps_to_month_end() -> None:
    assert policy_service.months_before(datetime(2026, 3, 31, tzinfo=UTC), 1).day == 28
    assert policy_service.months_before(NOW, 12) == NOW.replace(year=2025)


def test_dry_run_then_anonymise_then_idempotent(sqlite_engine: Engine) -> None:
    ids = _seed(sqlite_engine)
    settings = _settings(policy_prospect_months=12, policy_interaction_text_years=3)
    with session_scope(sqlite_engine) as session:
        dry = policy_service.run_policy(session=session, settings=settings, dry_run=True,
                                        now=NOW)
    assert [(r.rule, r.affected) for r in dry.rules] == [
        ("prospects", 1), ("interaction text", 1), ("uploads", None)]
    with session_scope(sqlite_engine) as session:
        assert session.get(Prospect, ids["old"]).first_name == "Old"  # type: ignore[union-attr]
        real = policy_service.run_policy(session=session, settings=settings, dry_run=False,
                                         now=NOW)
    assert [r.affected for r in real.rules] == [1, 1, None]
    with session_scope(sqlite_engine) as session:
        old = session.get(Prospect, ids["old"])
        assert old is not None and (old.first_name, old.email) == (None, None)
        assert old.external_id == f"anonymised:{old.id}"
        for key in ("converted", "recent"):
            assert session.get(Prospect, ids[key]).first_name is not None  # type: ignore[union-attr]
        texts = dict(session.execute(select(Interaction.external_id, Interaction.text)).all())
        assert texts == {"i0": None, "i1": "Free text", "i2": None}
        again = policy_service.run_policy(session=session, settings=settings, dry_run=False,
                                          now=NOW)
        assert [r.affected for r in again.rules] == [0, 0, None]
        runs = list(session.scalars(select(AuditLog).where(AuditLog.kind == "policy")
                                    .order_by(AuditLog.id)))
    assert [r.action for r in runs] == ["dry_run", "run", "run"]
    assert runs[1].summary is not None and "prospects: affected 1" in runs[1].summary
    assert "Old" not in str([r.changes for r in runs])


def test_delete_prospects_and_uploads_from_the_cli(
        sqlite_engine: Engine, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _seed(sqlite_engine)
    uploads = workspace / "uploads"
    uploads.mkdir(parents=True)
    stale, fresh = uploads / "old.csv", uploads / "new.csv"
    stale.write_text("a\n")
    fresh.write_text("b\n")
    month_ago = (datetime.now(UTC) - timedelta(days=30)).timestamp()
    os.utime(stale, (month_ago, month_ago))
    monkeypatch.setenv("KITHKIN_POLICY_PROSPECT_MONTHS", "12")
    monkeypatch.setenv("KITHKIN_POLICY_PROSPECT_ACTION", "delete")
    monkeypatch.setenv("KITHKIN_POLICY_UPLOAD_DAYS", "7")
    get_settings.cache_clear()
    dry = runner.invoke(cli, ["policy", "run", "--dry-run"])
    assert dry.exit_code == 0 and "dry run" in dry.output, dry.output
    assert stale.exists()
    done = runner.invoke(cli, ["policy", "run"])
    assert done.exit_code == 0, done.output
    assert not stale.exists() and fresh.exists()
    with session_scope(sqlite_engine) as session:
        left = set(session.scalars(select(Prospect.id)))
        assert left == {ids["converted"], ids["recent"]}
        assert session.scalar(select(func.count()).select_from(Interaction)) == 2
        (run,) = session.scalars(select(AuditLog).where(AuditLog.action == "run"))
        assert run.source == "cli" and run.actor_label and run.actor_label.startswith("cli:")
