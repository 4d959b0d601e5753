"""Outbox fixtures: a migrated SQLite store, customers with chosen consent, settings
pointing at local receivers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from kithkin.config import Settings
from kithkin.customers.models import Consent, Customer
from kithkin.database.core import session_scope
from kithkin.products.models import Product
from kithkin.transactions.models import Transaction, TransactionLine
from tests.outbox.receivers import Inbox, smtp_server, webhook_server

SECRET = "s" * 16 + "-test-signing-secret-0123456789"
AddCustomer = Callable[..., int]


@pytest.fixture
def add_customer(sqlite_engine: Engine) -> AddCustomer:
    """``add_customer(consent="granted"|None|"opted_out"|..., email=..., erased=False,
    channel="email", **fields)``: one customer; returns its id."""

    def add(consent: str | None = "granted", *, email: str | None = "ada@example.com",
            erased: bool = False, channel: str = "email", purpose: str = "marketing",
            **fields: Any) -> int:
        with session_scope(sqlite_engine) as session:
            customer = Customer(first_name=fields.pop("first_name", "Ada"),
                                last_name="Lovelace", email=email,
                                erased_at=datetime(2025, 1, 1, tzinfo=UTC) if erased else None,
                                **fields)
            if consent is not None:
                customer.consents.append(Consent(channel=channel, purpose=purpose,
                                                 status=consent))
            session.add(customer)
            session.flush()
            return customer.id

    return add


def add_order(engine: Engine, customer_id: int, *, product: str = "Blue Kettle") -> None:
    with session_scope(engine) as session:
        item = Product(sku=f"sku-{customer_id}", name=product)
        session.add(item)
        session.flush()
        session.add(Transaction(
            source="shop", order_id=f"o{customer_id}", customer_id=customer_id,
            ordered_at=datetime(2026, 3, 2, tzinfo=UTC), amount=42.0,
            lines=[TransactionLine(line_no=1, product_id=item.id, sku=item.sku,
                                   quantity=1, unit_price=42.0)]))


@pytest.fixture
def receivers() -> Iterator[tuple[int, Inbox, str, Inbox]]:
    with smtp_server() as (port, mail), webhook_server(SECRET) as (url, hooks):
        yield port, mail, url, hooks


@pytest.fixture
def settings(workspace: Path, receivers: tuple[int, Inbox, str, Inbox]) -> Settings:
    port, _, url, _ = receivers
    return Settings(home=workspace, smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none",
                    smtp_from="shop@example.com", webhook_url=url, webhook_secret=SECRET,
                    outbox_backoff_seconds=10, outbox_max_attempts=3,
                    outbox_deliver_interval_seconds=None)
