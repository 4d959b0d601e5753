"""The refresh's grant checks the ledger's references once per parent, as strictly as
SQLite's per-row checks, and hands its connection back with those checks on."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.exc import IntegrityError

from kithkin.analytics import engine as analytics_engine
from kithkin.config import get_settings
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.loyalty import ledger, references
from kithkin.loyalty.models import LoyaltyEntry
from kithkin.loyalty.programme import Programme
from kithkin.transactions.models import Transaction
from tests.loyalty.test_earning import AS_OF, entries, fill

PROGRAMME = Programme.model_validate({"frequency_bonus": {"every_nth_order": 3,
                                                          "points": 10}})


def _checks_on(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.exec_driver_sql("PRAGMA foreign_keys").scalar())


def test_grant_without_row_checks_writes_the_same_entries(sqlite_engine: Engine) -> None:
    fill(sqlite_engine, seed=11, customers=40)
    source = analytics_engine.connect(get_settings(), store=sqlite_engine)
    with references.checked_once(sqlite_engine) as session:
        assert references.unchecked(session.connection())
        first = ledger.grant(session, PROGRAMME, as_of=AS_OF, source=source)
    assert first.earned > 0 and _checks_on(sqlite_engine)
    with session_scope(sqlite_engine) as session:
        granted = entries(session)
        session.execute(delete(LoyaltyEntry))
    with session_scope(sqlite_engine) as session:  # the per-row checked path
        assert not references.unchecked(session.connection())
        again = ledger.grant(session, PROGRAMME, as_of=AS_OF, source=source)
        assert entries(session) == granted
    assert (again.earned, again.bonuses, again.reversed) == (
        first.earned, first.bonuses, first.reversed)


@pytest.mark.parametrize("checked_once", [True, False])
def test_an_entry_naming_a_deleted_customer_fails_the_grant(sqlite_engine: Engine,
                                                             checked_once: bool) -> None:
    fill(sqlite_engine, seed=12, customers=40)
    source = analytics_engine.connect(get_settings(), store=sqlite_engine)
    with session_scope(sqlite_engine) as session:  # after the snapshot: it still has them
        buyer = session.scalar(select(Transaction.customer_id).where(
            Transaction.amount > 0).limit(1))
        session.execute(delete(Customer).where(Customer.id == buyer))
    scope = references.checked_once if checked_once else session_scope
    with pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed"), \
            scope(sqlite_engine) as session:
        ledger.grant(session, PROGRAMME, as_of=AS_OF, source=source)
    with session_scope(sqlite_engine) as session:
        assert session.scalar(select(func.count()).select_from(LoyaltyEntry)) == 0
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert _checks_on(sqlite_engine)
