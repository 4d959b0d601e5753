"""A store with one person in two duplicate records (11 and 12), every kind of row that
can hold their data, and 30 other customers with orders, for the privacy tests."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert, text

from kithkin.config import Settings
from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.database.core import session_scope
from kithkin.imports.ingest import ingest_file
from kithkin.interactions.models import Interaction
from kithkin.outbox.models import Message
from kithkin.prospects.models import Prospect
from kithkin.tasks.models import Task
from kithkin.transactions.models import Transaction, TransactionLine

EMAIL = "ada.lovelace@example.com"
OTHER_EMAIL = "countess.ada@example.org"
PHONE = "+44 20 7946 0018"
PHONE_E164 = "+442079460018"
LAST_NAME = "Lovelace"
FIRST_NAME = "Augusta"
# What must not be found anywhere once the person is erased.
SECRETS = (EMAIL, OTHER_EMAIL, LAST_NAME, PHONE, PHONE_E164, "7946 0018", "1815-12-10")
START = datetime(2023, 1, 5, 10, tzinfo=UTC)
AS_OF = date(2024, 12, 31)

HEADER = ["source", "external_id", "first_name", "last_name", "email", "phone",
          "date_of_birth", "city", "consent_email"]


@dataclass(frozen=True)
class Seeded:
    survivor: int  # 12
    merged: int  # 11
    upload: Path


def person_rows() -> list[list[str]]:
    return [["shop", "C-11", FIRST_NAME, LAST_NAME, OTHER_EMAIL, PHONE, "1815-12-10",
             "London", "granted"],
            ["crm", "K-12", FIRST_NAME, LAST_NAME, EMAIL, "", "1815-12-10", "London", ""]]


def write_upload(settings: Settings) -> Path:
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    path = settings.uploads_dir / "customers-upload.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(person_rows())
        writer.writerows([["shop", f"C-{i}", f"Other{i}", f"Person{i}", f"p{i}@example.net",
                           "", "", "Leeds", "granted"] for i in range(20, 50)])
    return path


def seed(engine: Engine, settings: Settings) -> Seeded:
    """Customers 1..10 are placeholders so the person gets ids 11 and 12."""
    with engine.begin() as conn:
        conn.execute(insert(Customer), [{"id": i, "first_name": f"Filler{i}"}
                                        for i in range(1, 11)])
        if conn.dialect.name == "postgresql":  # explicit ids do not advance the sequence
            conn.execute(text("SELECT setval(pg_get_serial_sequence('customer', 'id'), 10)"))
    upload = write_upload(settings)
    report = ingest_file(kind="customers", path=upload, engine=engine, settings=settings)
    assert report.rows_rejected == 0, report
    with session_scope(engine) as session:
        ids = dict(session.query(CustomerIdentifier.external_id,
                                 CustomerIdentifier.customer_id).all())
        merged, survivor = ids["C-11"], ids["K-12"]
        assert (merged, survivor) == (11, 12)
        others = [ids[f"C-{i}"] for i in range(20, 50)]
        orders, n = [], 0
        for k, cid in enumerate([merged, survivor, *others]):
            for j in range(k % 5 + 1):
                n += 1
                orders.append({"source": "shop", "order_id": f"o{n}", "customer_id": cid,
                               "ordered_at": START + timedelta(days=k * 7 + j * 45),
                               "amount": 20.0 + k + j})
        session.execute(insert(Transaction), orders)
        session.flush()
        first = session.query(Transaction).filter_by(customer_id=survivor).first()
        assert first is not None
        session.add(TransactionLine(transaction_id=first.id, line_no=1, sku="BOOK-1",
                                    quantity=1, unit_price=first.amount))
        session.add(Interaction(
            source="mail", external_id="i-1", customer_id=merged, kind="complaint",
            direction="inbound", occurred_at=START + timedelta(days=3),
            subject=f"From {FIRST_NAME} {LAST_NAME}",
            text=f"Please call me on {PHONE} or write to {EMAIL}."))
        session.add(Task(title=f"Call {FIRST_NAME} {LAST_NAME} back", customer_id=survivor,
                         reason="person", details=f"phone {PHONE}"))
        session.add(Message(customer_id=survivor, template="generic", channel="email",
                            purpose="marketing", reason="list:1", recipient=EMAIL,
                            subject=f"Dear {FIRST_NAME} {LAST_NAME}", body="Hello",
                            idempotency_key="k-1"))
        session.add(Prospect(source="fair", external_id="P-1", first_name=FIRST_NAME,
                             last_name=LAST_NAME, email=EMAIL, email_normalized=EMAIL,
                             phone_e164=PHONE_E164, converted_customer_id=survivor))
    return Seeded(survivor=survivor, merged=merged, upload=upload)
