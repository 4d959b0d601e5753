"""Issue #12's acceptance test: a real-shaped transaction log, imported with CLI flags only.

The file looks like the public CDNOW log: whitespace-separated customer id, date
(YYYYMMDD), quantity and amount; no header, no order id, no cost, no ``source``. The
workspace is not initialised first: the import creates it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from kithkin.cli.main import app
from kithkin.database.core import get_engine

pytestmark = pytest.mark.slow  # first in the suite's order (tests/conftest.py)

CUSTOMERS = 300
FLAGS = ["--columns", "--set", "--create-customers", "--delimiter", "--no-header"]


def _cdnow_like(path: Path, seed: int = 7) -> dict[tuple[str, str], tuple[int, float]]:
    """Write the log; return (customer id, YYYYMMDD) -> (units, amount): one order each."""
    rng = random.Random(seed)
    orders: dict[tuple[str, str], tuple[int, float]] = defaultdict(lambda: (0, 0.0))
    lines: list[str] = []
    start = date(1997, 1, 1)
    for number in range(1, CUSTOMERS + 1):
        customer = f"{number:05d}"
        day = start + timedelta(days=rng.randrange(90))  # CDNOW: a first-quarter cohort
        for _ in range(1 + int(rng.expovariate(0.6))):
            units = rng.choice([1, 1, 1, 2, 2, 3, 4, 6])
            amount = round(units * rng.uniform(9.5, 16.0), 2)
            stamp = day.strftime("%Y%m%d")
            lines.append(f"{customer} {stamp} {units:>2d} {amount:>7.2f}")
            before = orders[(customer, stamp)]
            orders[(customer, stamp)] = (before[0] + units, round(before[1] + amount, 2))
            if rng.random() < 0.1:  # a second line the same day: the same order
                continue
            day += timedelta(days=1 + int(rng.expovariate(1 / 60)))
            if day > date(1998, 6, 30):
                break
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return dict(orders)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COLUMNS", "200")  # the summary table on one line per row
    return CliRunner()


def test_a_transaction_log_imports_with_flags_from_help_then_refreshes(
        runner: CliRunner, tmp_path: Path, workspace: Path) -> None:
    log = tmp_path / "CDNOW_like.txt"
    orders = _cdnow_like(log)
    rows = sum(1 for _ in log.open())
    assert rows > len(orders) > CUSTOMERS  # repeat buyers and same-day lines
    assert not workspace.exists()

    shown = " ".join(runner.invoke(app, ["import", "--help"], terminal_width=200)
                     .output.split())
    for flag in FLAGS:
        assert flag in shown, flag

    # Quantity left unmapped: the dry run names it among the ignored columns.
    dry = runner.invoke(app, [
        "import", "transactions", str(log), "--no-header", "--dry-run", "--create-customers",
        "--set", "source=cdnow", "--map", "column_1=customer_external_id",
        "--map", "column_2=ordered_at", "--map", "column_4=amount"], terminal_width=200)
    assert dry.exit_code == 0, dry.output
    assert "column_3" in dry.output.split("ignored columns")[1]
    assert workspace.exists()  # created on first use

    args = ["import", "transactions", str(log), "--delimiter", "whitespace",
            "--columns", "customer_external_id,ordered_at,quantity,amount",
            "--set", "source=cdnow", "--create-customers"]
    first = runner.invoke(app, args, terminal_width=200)
    assert first.exit_code == 0, first.output
    summary = " ".join(first.output.replace("│", " ").split())  # table or list layout
    assert "delimiter whitespace" in summary
    assert f"read {rows:,}" in summary
    assert f"inserted / updated / unchanged {len(orders):,} / 0 / 0" in summary
    assert f"rows added into another row's order {rows - len(orders):,}" in summary
    assert f"customers created {CUSTOMERS:,}" in summary
    assert "ignored columns (not imported) none" in summary

    with get_engine().connect() as conn:
        stored = {(ext, str(at)[:10].replace("-", "")): (units, amount) for ext, at, units,
                  amount in conn.execute(text(
                      'SELECT i.external_id, t.ordered_at, t.quantity, t.amount FROM '
                      '"transaction" t JOIN customer_identifier i ON i.customer_id = '
                      't.customer_id WHERE t.source = \'cdnow\''))}
        costs = conn.execute(text('SELECT count(cost) FROM "transaction"')).scalar_one()
        generated = conn.execute(text(
            "SELECT count(*) FROM \"transaction\" WHERE order_id LIKE 'gen-%'")).scalar_one()
    assert stored == {key: (float(units), amount) for key, (units, amount) in orders.items()}
    assert costs == 0  # no cost in the file: unknown, not zero
    assert generated == len(orders)

    again = runner.invoke(app, args, terminal_width=200)  # idempotent re-import
    assert again.exit_code == 0, again.output
    assert (f"inserted / updated / unchanged 0 / 0 / {len(orders):,}"
            in " ".join(again.output.split()))

    refreshed = runner.invoke(app, ["refresh", "--as-of", "1998-07-01"], terminal_width=200)
    assert refreshed.exit_code == 0, refreshed.output
    said = " ".join(refreshed.output.split())
    # Honest numbers on transaction-only data: the margin is an assumption said as one,
    # stages use the evidence there is, and repeat buyers can be friends.
    assert "CLV margin: unknown (no cost in the data), assumed 25%" in said
    assert "0 %" not in said and "0.0%" not in said
    assert "transaction-only" in said
    with get_engine().connect() as conn:
        friends = conn.execute(text(
            "SELECT count(*) FROM customer_stage s JOIN customer_metric m "
            "ON m.customer_id = s.customer_id WHERE s.model = 'journey' "
            "AND s.stage IN ('friend', 'partner') AND m.orders >= 2")).scalar_one()
        health = conn.execute(text(
            "SELECT count(*) FROM relationship_profile WHERE health_interactive IS NOT NULL"
        )).scalar_one()
        some = conn.execute(text(
            "SELECT external_id FROM customer_identifier ORDER BY id LIMIT 1")).scalar_one()
    assert friends > 0
    assert health == 0  # no interactions in the file: unknown, never scored as 0
    explained = runner.invoke(app, ["customers", "explain", f"ext:cdnow:{some}"],
                              terminal_width=200)
    assert explained.exit_code == 0, explained.output
    assert "interactive unknown" in explained.output
    assert f"stored metrics of {CUSTOMERS:,} customers" in " ".join(refreshed.output.split())


def test_a_log_read_as_one_column_hints_at_the_delimiter(runner: CliRunner,
                                                         tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    _cdnow_like(log)
    result = runner.invoke(app, ["import", "transactions", str(log), "--delimiter", ",",
                                 "--set", "source=cdnow"], terminal_width=200)
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "read as ONE column" in message and "--delimiter" in message
    assert "Traceback" not in result.output
