"""`kithkin retention`: the self-contained report, CSV import of exit interviews, complaints."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from kithkin.analytics.models import CustomerMetric
from kithkin.cli.main import app
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.interactions.models import Interaction
from kithkin.retention.models import ExitInterview
from kithkin.transactions.models import Transaction

runner = CliRunner()
AS_OF = date(2025, 6, 30)


@pytest.fixture
def store(sqlite_engine: Engine) -> list[int]:
    """60 customers with one refresh: every third has not bought for 400 days (lapsed)."""
    start = datetime(2023, 1, 1, tzinfo=UTC)
    with session_scope(sqlite_engine) as session:
        people = [Customer(first_name=f"P{i}") for i in range(60)]
        session.add_all(people)
        session.flush()
        for i, person in enumerate(people):
            first = start + timedelta(days=5 * i)
            last = (datetime(2024, 5, 1, tzinfo=UTC) - timedelta(days=i) if i % 3 == 0
                    else datetime(2025, 6, 1, tzinfo=UTC))
            for when in (first, last):
                session.add(Transaction(source="shop", order_id=f"{i}-{when:%Y%m%d}",
                                        customer_id=person.id, ordered_at=when, amount=20.0,
                                        channel="web"))
            session.add(CustomerMetric(as_of=AS_OF, customer_id=person.id, orders=2,
                                       first_purchase_at=first, last_purchase_at=last,
                                       has_loyalty=i % 2 == 0, p_alive=0.3 if i % 3 == 0
                                       else 0.9, clv=100.0))
        session.add(Interaction(source="desk", external_id="K1", customer_id=people[0].id,
                                occurred_at=datetime(2024, 1, 1, tzinfo=UTC),
                                direction="inbound", kind="complaint", status="open"))
        return [p.id for p in people]


def test_report_is_one_self_contained_file(store: list[int], tmp_path: Path) -> None:
    out = tmp_path / "retention.html"
    result = runner.invoke(app, ["retention", "report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "As of 2025-06-30" in html  # the latest refresh, not today
    assert 'id="km-all"' in html and 'id="km-bond_count"' in html
    assert "Plotly.newPlot" in html and len(html) > 1_000_000  # plotly.js inlined
    assert not re.search(r"<script[^>]+src=", html)  # nothing fetched: no CDN
    assert "20 customers have P(alive) below 0.5" in html


def test_report_refuses_a_bad_date(store: list[int], tmp_path: Path) -> None:
    result = runner.invoke(app, ["retention", "report", "--out", str(tmp_path / "x.html"),
                                 "--as-of", "yesterday"])
    assert result.exit_code == 1 and "--as-of" in result.output


def test_import_exit_interviews_names_row_and_field_and_reruns(store: list[int],
                                                               tmp_path: Path) -> None:
    good = tmp_path / "exits.csv"
    good.write_text("customer_id,text,defector_type,occurred_at\n"
                    f"{store[0]},Too expensive now.,price,2024-09-01\n"
                    f"{store[3]},The app is clunky.,,2024-09-02\n", encoding="utf-8")
    first = runner.invoke(app, ["retention", "interviews", "import", str(good)])
    assert first.exit_code == 0 and "imported 2" in first.output, first.output
    again = runner.invoke(app, ["retention", "interviews", "import", str(good)])
    assert "imported 0" in again.output
    with session_scope() as session:
        rows = session.scalars(select(ExitInterview).order_by(ExitInterview.id)).all()
        assert [(r.defector_type, r.suggested_type) for r in rows] == [
            ("price", "price"), (None, "technology")]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"customer_id,text,defector_type\n{store[0]},Meh.,cheapskate\n",
                   encoding="utf-8")
    refused = runner.invoke(app, ["retention", "interviews", "import", str(bad)])
    assert refused.exit_code == 1
    flat = refused.output.replace("\n", "")  # Rich wraps a long temporary path anywhere
    assert "bad.csv:2" in flat and "defector_type" in flat


def test_complaint_commands(store: list[int]) -> None:
    with session_scope() as session:
        complaint = session.scalars(select(Interaction.id)).one()
    assert "responded" in runner.invoke(app, ["retention", "complaints", "respond",
                                              str(complaint)]).output
    assert "resolved" in runner.invoke(app, ["retention", "complaints", "resolve",
                                             str(complaint)]).output
    missing = runner.invoke(app, ["retention", "complaints", "resolve", "999"])
    assert missing.exit_code == 1 and "complaint 999 does not exist" in missing.output
