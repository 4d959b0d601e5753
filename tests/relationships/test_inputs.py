"""Reading metrics and relationship inputs from the store, then a refresh from them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kithkin.analytics.models import CustomerMetric
from kithkin.config import get_settings
from kithkin.customers.models import Customer
from kithkin.errors import NotFoundError
from kithkin.interactions.models import Interaction
from kithkin.products.models import Product
from kithkin.relationships import inputs, service
from kithkin.transactions.models import Transaction, TransactionLine
from kithkin.users.models import StaffUser

AS_OF = date(2026, 3, 31)
WHEN = datetime(2026, 3, 1, tzinfo=UTC)
LATER = datetime(2026, 5, 1, tzinfo=UTC)  # after the as-of: must be ignored


def _seed(session: Session) -> None:
    session.add_all([
        Customer(id=1, attributes={"preferences": ["jazz"], "account_manager": "ana",
                                   "integrations": "edi;api", "customized_orders": 2}),
        Customer(id=2, attributes={"preferences": [], "price_lock": True}),
        Customer(id=3),
    ])
    session.flush()  # no relationship() orders these inserts: customers first, by hand
    session.add_all([
        CustomerMetric(as_of=date(2026, 1, 1), customer_id=1, orders=1),
        *(CustomerMetric(as_of=AS_OF, customer_id=i, orders=3, days_since_last_purchase=10,
                         complaints_open=0, interactions_90d=0, categories_bought=1,
                         revenue=100.0, margin=30.0, clv=50.0) for i in (1, 2, 3)),
    ])
    session.add_all([
        Interaction(source="crm", external_id="i1", customer_id=1, occurred_at=WHEN,
                    direction="inbound", kind="visit", tags=["Event", "spring"]),
        Interaction(source="crm", external_id="i2", customer_id=2, occurred_at=LATER,
                    direction="inbound", kind="visit", tags=["community"]),
        Interaction(source="crm", external_id="i3", customer_id=3, occurred_at=WHEN,
                    direction="inbound", kind="call", tags=["billing"]),
    ])
    books = Product(sku="b", name="Book", category="books")
    garden = Product(sku="g", name="Spade", category="garden")
    session.add_all([books, garden])
    session.flush()
    for n, (customer, product, bundle, when) in enumerate([
            (1, books, "starter", WHEN), (1, garden, None, WHEN), (2, garden, None, WHEN),
            (3, books, "starter", LATER)]):
        order = Transaction(source="shop", order_id=f"o{n}", customer_id=customer,
                            ordered_at=when, amount=10.0)
        session.add(order)
        session.flush()
        session.add(TransactionLine(transaction_id=order.id, line_no=1, sku=product.sku,
                                    product_id=product.id, quantity=1, unit_price=10.0,
                                    bundle=bundle))
    session.commit()


def test_loaders_read_the_latest_block_and_the_derived_inputs(
        sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        with pytest.raises(NotFoundError, match="kithkin refresh"):
            inputs.load_metrics(session=session)
        _seed(session)
        loaded = inputs.load_metrics(session=session, as_of=AS_OF)
        assert sorted(loaded["customer_id"]) == [1, 2, 3] and set(loaded["orders"]) == {3}
        assert inputs.load_metrics(session=session, as_of=date(2026, 2, 1))[
            "orders"].tolist() == [1]
        events = inputs.event_inputs(session=session, settings=get_settings(), as_of=AS_OF)
        derived = events.per_customer.set_index("customer_id").sort_index()
        assert derived.loc[1, ["has_preferences", "has_account_manager", "integrations",
                               "customized_orders", "community_interactions",
                               "bundles_bought"]].tolist() == [True, True, 2, 2, 1, 1]
        assert derived.loc[2, ["has_preferences", "has_price_lock"]].tolist() == [False,
                                                                                 True]
        # customer 3 has no attributes, and its bundle and tag came after the as-of
        assert 3 not in derived.index
        spend = events.category_spend
        assert sorted(map(tuple, spend.values.tolist())) == [
            (1, "books", 10.0), (1, "garden", 10.0), (2, "garden", 10.0)]


def test_refresh_from_the_store(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        _seed(session)
        report = service.refresh(session=session, settings=get_settings(), as_of=AS_OF)
        session.commit()
        journey = {m.model: m for m in report.models}["journey"]
        # only customer 1 has firm-held knowledge (stored preferences): a friend
        assert journey.distribution == {"stranger": 0, "acquaintance": 2, "friend": 1,
                                        "partner": 0}
        found = service.explain(session=session, settings=get_settings(), customer_id=1)
        assert found.bonds is not None
        assert (found.bonds.social, found.bonds.customization,
                found.bonds.structural) == (66.7, 66.7, 33.3)
        assert report.needs_segments == {"all": 2}  # too few buyers to cluster


def test_stages_refresh_command_uses_the_latest_metrics(sqlite_engine: Engine) -> None:
    from typer.testing import CliRunner

    from kithkin.cli.main import app

    with Session(sqlite_engine) as session:
        _seed(session)
    result = CliRunner().invoke(app, ["stages", "refresh"])
    assert result.exit_code == 0, result.output
    with Session(sqlite_engine) as session:
        assert service.explain(session=session, settings=get_settings(),
                               customer_id=1).as_of == AS_OF


def test_an_assigned_account_manager_is_a_social_bond(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        manager = StaffUser(email="ana@example.com", name="Ana", role="agent",
                            password_hash="x")
        session.add(manager)
        session.flush()
        session.add_all([Customer(id=1, account_manager_id=manager.id),
                         Customer(id=2, attributes={"preferences": ["tea"]})])
        session.commit()
        found = inputs.event_inputs(
            session=session, settings=get_settings(), as_of=AS_OF).per_customer
    assert found.set_index("customer_id")["has_account_manager"].to_dict() == {
        1: True, 2: False}


def test_attribute_inputs_follow_edits_between_refreshes(sqlite_engine: Engine) -> None:
    """The attributes now come from the engine's incremental snapshot, not the store: an
    edit after one refresh must reach the next (the customer's updated_at changes the
    snapshot's fingerprint, so the customers table is copied again)."""
    with Session(sqlite_engine) as session:
        _seed(session)
        before = inputs.event_inputs(
            session=session, settings=get_settings(), as_of=AS_OF).per_customer
        assert before.set_index("customer_id").loc[2, "has_preferences"] == False  # noqa: E712
        customer = session.get(Customer, 2)
        assert customer is not None
        customer.attributes = {"preferences": "tea;jazz", "price_lock": True}
        session.add(Customer(id=4, attributes={"integrations": ["erp"]}))
        session.commit()
        after = inputs.event_inputs(
            session=session, settings=get_settings(), as_of=AS_OF).per_customer
    found = after.set_index("customer_id")
    assert found.loc[2, "has_preferences"] == True  # noqa: E712
    assert found.loc[4, "integrations"] == 1
