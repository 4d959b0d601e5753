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


def _text(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return "" if value is None else value


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
    while True:
        rows = [tuple(r) for r in session.execute(query.where(Customer.id > last))]
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
    writer.writerow(COLUMNS)
    yield out.getvalue()
    for rows in member_batches(session=session, of=of, batch=batch):
        out.seek(0)
        out.truncate()
        writer.writerows([[_safe(_text(v)) for v in row] for row in rows])
        yield out.getvalue()


_PHONE = re.compile(r"^\+[\d\s().-]+$")


def _safe(value: Any) -> Any:
    """OWASP's CSV-injection defence, sparing phone numbers such as +44 20 7946 0000."""
    if (isinstance(value, str) and value[:1] in {"=", "+", "-", "@", "\t", "\r"}
            and not _PHONE.match(value)):
        return "'" + value
    return value
