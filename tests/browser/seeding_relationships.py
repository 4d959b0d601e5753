"""Seed for the stage-flows, levels and duplicate pages: two real relationship refreshes
(so there is history and a downward move) and a few pending duplicate pairs.

Used by the browser server's seed and by tests/dashboard (on a copy of the seeded store).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kithkin.config import get_settings
from kithkin.customers.models import Customer
from kithkin.identity.models import DuplicateCandidate
from kithkin.relationships import service as relationship_service
from tests.relationships.crafted import CUSTOMERS, DRIFT, metrics

FIRST, SECOND = date(2025, 9, 30), date(2025, 12, 31)
# Crafted customer 5 drifts away at the second refresh: friend -> acquaintance (journey).
DRIFTER = 5
WEIGHTS = {"first_name_last_name": {"level": "exact match", "weight": 4.25},
           "email": {"level": "all other comparisons", "weight": -2.5},
           "location": {"level": "exact match", "weight": 1.75}}


def seed_relationships(engine: Engine) -> dict[str, int]:
    """Refresh twice on the crafted metrics, mapped onto the store's first customers;
    returns the id of the customer who moved down (``drifter``)."""
    with Session(engine) as session:
        ids = list(session.execute(select(Customer.id).order_by(Customer.id)
                                   .limit(len(CUSTOMERS))).scalars())
        mapping = dict(zip(sorted(CUSTOMERS), ids, strict=True))
        for as_of, frame in ((FIRST, metrics()), (SECOND, metrics({DRIFTER: DRIFT}))):
            frame["customer_id"] = frame["customer_id"].map(mapping)
            relationship_service.refresh(session=session, settings=get_settings(), as_of=as_of,
                                         metrics=frame)
            session.commit()
    return {"drifter": mapping[DRIFTER]}


def seed_duplicates(engine: Engine, *, pairs: int = 3) -> list[int]:
    """Pending candidate pairs between the store's "Smith" customers; returns their ids."""
    with Session(engine) as session:
        smiths = list(session.execute(select(Customer.id).where(Customer.last_name == "Smith")
                                      .order_by(Customer.id)).scalars())
        rows = [DuplicateCandidate(customer_id_l=smiths[0], customer_id_r=right,
                                   match_probability=0.97 - 0.1 * n, match_weight=3.5 - n,
                                   weights=WEIGHTS)
                for n, right in enumerate(smiths[1:pairs + 1])]
        session.add_all(rows)
        session.commit()
        return [row.id for row in rows]


def seed_pages(engine: Engine) -> dict[str, int]:
    """Everything the stage-flows, levels and duplicate pages need; ids for the tests."""
    ids = seed_relationships(engine)
    ids["duplicate_pair"] = seed_duplicates(engine)[0]
    return ids
