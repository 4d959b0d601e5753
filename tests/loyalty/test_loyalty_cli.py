"""`kithkin loyalty` end to end."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from typer.testing import CliRunner

from kithkin.cli.main import app
from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.database.core import session_scope
from kithkin.transactions.models import Transaction
from tests.loyalty.members import enrol

runner = CliRunner()


def test_grant_statement_redeem_adjust(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        ada = Customer(first_name="Ada", last_name="Lovelace",
                       identifiers=[CustomerIdentifier(source="shop", external_id="C-1")])
        session.add(ada)
        session.flush()
        enrol(session, ada.id)  # the shipped programme rewards enrolled members only
        session.add(Transaction(source="shop", order_id="1", customer_id=ada.id,
                                amount=90.0, ordered_at=datetime.now(UTC)))
    today = datetime.now(UTC).date().isoformat()
    granted = runner.invoke(app, ["loyalty", "grant", "--as-of", today])
    assert granted.exit_code == 0 and "1 orders earned" in granted.output
    again = runner.invoke(app, ["loyalty", "grant", "--as-of", today])
    assert "0 orders earned" in again.output
    shown = runner.invoke(app, ["loyalty", "statement", "C-1"])
    assert "100 points, tier member" in shown.output and "+100" in shown.output
    refused = runner.invoke(app, ["loyalty", "redeem", "C-1", "101"])
    assert refused.exit_code == 1 and "has 100 points; cannot take 101" in refused.output
    assert "60 left" in runner.invoke(app, ["loyalty", "redeem", "C-1", "40"]).output
    adjusted = runner.invoke(app, ["loyalty", "adjust", "C-1", "5", "--reason", "apology"])
    assert "balance 65" in adjusted.output
