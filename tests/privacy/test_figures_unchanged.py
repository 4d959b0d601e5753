"""Erasure keeps the figures (#17 part 3): the erased person's orders stay under the
pseudonymous id, so CLV and cohort retention computed after the erasure equal those
before it. On main, analytics dropped erased customers and both moved."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from kithkin.analytics import refresh, reports
from kithkin.analytics.models import CustomerMetric
from kithkin.config import get_settings
from kithkin.database.core import session_scope
from kithkin.privacy import erasure
from tests.privacy.seeding import AS_OF, seed

pytestmark = pytest.mark.slow  # first in the suite's order (tests/conftest.py)


def _figures(engine: Engine) -> tuple[dict[int, tuple[float | None, float | None]],
                                      list[dict[str, object]], object]:
    settings = get_settings()
    refresh.run(settings=settings, as_of=AS_OF, store_engine=engine)
    with session_scope(engine) as session:
        metrics = {m.customer_id: (m.clv, m.p_alive) for m in session.scalars(
            select(CustomerMetric).where(CustomerMetric.as_of == AS_OF))}
        distribution = reports.clv_distribution(session=session, as_of=AS_OF)
    return metrics, reports.cohorts(settings=settings, as_of=AS_OF), (
        distribution.customers, round(distribution.total, 6))


def test_clv_and_retention_do_not_move(sqlite_engine: Engine) -> None:
    settings = get_settings()
    seeded = seed(sqlite_engine, settings)
    before = _figures(sqlite_engine)
    assert before[0][seeded.survivor][0] is not None  # the person has a CLV to keep
    with session_scope(sqlite_engine) as session:
        erasure.erase(session=session, settings=settings, customer_id=seeded.survivor,
                      actor="dpo")
    after = _figures(sqlite_engine)
    assert after[0] == before[0]
    assert after[1] == before[1] and len(after[1]) > 0
    assert after[2] == before[2]
