"""What happened: contacted against holdout, unknown outcomes left out, small groups
called too few to tell."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from kithkin.config import get_settings
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.playbooks import keys, report, service
from kithkin.playbooks.models import CustomerLevelOverride
from kithkin.transactions.models import Transaction
from tests.playbooks.crafted import AS_OF, at


def test_contacted_bought_again_holdout_did_not(sqlite_engine: Engine,
                                                workspace: Path) -> None:
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "playbooks.toml").write_text("holdout_share = 0.5\n", encoding="utf-8")
    with session_scope(sqlite_engine) as session:
        people = [Customer(first_name=f"p{i}") for i in range(120)]
        session.add_all(people)
        session.flush()
        ids = [p.id for p in people]
        for customer_id in ids:
            session.add(CustomerLevelOverride(customer_id=customer_id, level="reactive",
                                              set_by="test"))
            session.add(Transaction(source="shop", order_id=f"first-{customer_id}",
                                    customer_id=customer_id, ordered_at=at(0), amount=10.0))
    service.run(engine=sqlite_engine, settings=get_settings(), as_of=AS_OF)
    held = set(int(i) for i in [c for c, h in zip(ids, keys.in_holdout(
        ids, "reactive", 0.5), strict=True) if h])
    with session_scope(sqlite_engine) as session:  # the contacted came back in 10 days
        for customer_id in ids:
            if customer_id not in held:
                session.add(Transaction(source="shop", order_id=f"again-{customer_id}",
                                        customer_id=customer_id, ordered_at=at(-10),
                                        amount=10.0))
    with session_scope(sqlite_engine) as session:
        early = report.what_happened(session=session, as_of=AS_OF + timedelta(days=20),
                                     outcome_model="journey")
        later = report.what_happened(session=session, as_of=AS_OF + timedelta(days=40),
                                     outcome_model="journey")
    assert early == []  or early[0]["comparison"]["bought_30d"]["contacted_n"] == 0
    [row] = [r for r in later if r["rule"] == "tell_us"]
    assert row["holdout"] == len(held) and row["contacted"] == 120 - len(held)
    # no address: each contacted firing held its message back (no message stored)
    assert row["messages"] == 0
    assert row["skipped"] == {"message:no e-mail address": 120 - len(held)}
    bought = row["comparison"]["bought_30d"]
    assert bought["contacted_rate"] == 1.0 and bought["holdout_rate"] == 0.0
    assert bought["verdict"] == "contacted customers did better"
    assert row["comparison"]["bought_90d"]["contacted_n"] == 0  # not known yet
    assert "too few to tell" in row["comparison"]["bought_90d"]["verdict"]


def test_compare_needs_enough_in_each_group() -> None:
    assert "too few" in report.compare(5, 10, 0, 100)["verdict"]
    shown = report.compare(30, 100, 28, 100)
    assert shown["verdict"] == "no difference shown" and shown["low"] < 0 < shown["high"]
