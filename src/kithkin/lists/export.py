"""A list's members as CSV, read and written in batches.

The export of a million-customer list must not hold a million rows: members are read a
keyset batch at a time (``id > last ORDER BY id LIMIT n``, an index walk), each batch
with its columns joined in the same query, and each batch is handed on as CSV text as
soon as it is read (the API streams it, the CLI writes it to the file).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from kithkin.analytics.models import CustomerMetric
from kithkin.customers.models import Customer
from kithkin.lists.service import Audience
from kithkin.relationships.models import CustomerStage, RelationshipProfile
from kithkin.users.models import StaffUser

BATCH = 5000
COLUMNS = ["customer_id", "first_name", "last_name", "company", "email", "phone", "city",
           "country", "stage", "value_tier", "clv", "p_alive", "last_order_at",
           "account_manager"]


# What each column needs on the way out: text is guarded against spreadsheet formulas,
# dates become ISO text, numbers stay; per column, so a cell costs one call at most.
_TEXT = {"first_name", "last_name", "company", "email", "phone", "city", "country",
         "stage", "value_tier", "account_manager"}


def _when(value: date | datetime | None) -> str:
    return "" if value is None else value.isoformat()


def _number(value: Any) -> Any:
    return "" if value is None else value


def _cell_writers() -> list[Any]:
    return [_safe if name in _TEXT else _when if name == "last_order_at" else _number
            for name in COLUMNS]


def member_batches(*, session: Session, of: Audience, batch: int = BATCH
                   ) -> Iterator[list[tuple[Any, ...]]]:
    """The members with the export's columns, ``batch`` rows at a time, by id."""
    # Aliases: the filters' EXISTS subqueries name these tables and must not correlate
    # with the joins here.
    metric, profile = aliased(CustomerMetric), aliased(RelationshipProfile)
    stage, manager = aliased(CustomerStage), aliased(StaffUser)
    query = (select(Customer.id, Customer.first_name, Customer.last_name, Customer.company,
                    Customer.email, Customer.phone, Customer.city, Customer.country,
                    stage.stage, profile.value_tier, metric.clv, metric.p_alive,
                    metric.last_purchase_at, manager.email)
             .outerjoin(metric, and_(metric.customer_id == Customer.id,
                                     metric.as_of == of.as_of))
             .outerjoin(profile, profile.customer_id == Customer.id)
             .outerjoin(stage, and_(stage.customer_id == Customer.id,
                                    stage.model == of.stage_model))
             .outerjoin(manager, manager.id == Customer.account_manager_id)
             .where(*of.where).order_by(Customer.id).limit(batch))
    last = 0
    connection = session.connection()  # plain rows: no ORM result machinery per row
    while True:
        rows = [tuple(r) for r in connection.execute(query.where(Customer.id > last))]
        if not rows:
            return
        yield rows
        if len(rows) < batch:
            return
        last = rows[-1][0]


def csv_chunks(*, session: Session, of: Audience, batch: int = BATCH) -> Iterator[str]:
    """The CSV text: the header, then one chunk per batch of members. Cells that a
    spreadsheet would run as a formula (=, +, -, @ first) are prefixed with ``'``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    cells = _cell_writers()
    writer.writerow(COLUMNS)
    yield out.getvalue()
    for rows in member_batches(session=session, of=of, batch=batch):
        out.seek(0)
        out.truncate()
        writer.writerows([[cell(v) for cell, v in zip(cells, row, strict=True)]
                          for row in rows])
        yield out.getvalue()


_PHONE = re.compile(r"^\+[\d\s().-]+$")


_FORMULA_STARTS = frozenset("=+-@\t\r")


def _safe(value: str | None) -> str:
    """OWASP's CSV-injection defence, sparing phone numbers such as +44 20 7946 0000."""
    if not value:
        return ""
    if value[0] in _FORMULA_STARTS and not _PHONE.match(value):
        return "'" + value
    return value
