"""The refresh stores next-best offers, bundles and rules; the API and templates read
them. Data: six customers whose baskets make tea and pots go together."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, select

from kithkin.analytics import refresh
from kithkin.config import get_settings
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.offers import service as offer_service
from kithkin.offers.models import CustomerOffer
from kithkin.products.models import Product
from kithkin.transactions.models import Transaction, TransactionLine

AS_OF = date(2025, 6, 30)


def _load(engine: Engine) -> dict[str, int]:
    """Customers 0-5 each buy tea with a pot (6 orders with both of 9: a rule, lift 9/7);
    0-3 also buy cups, 4-5 the tin, which is discontinued; customer 6 bought only tea,
    7-8 only cups."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with session_scope(engine) as session:
        products = {name: Product(sku=name, name=name.title(), category=category,
                                  discontinued_at=start if name == "tin" else None)
                    for name, category in (("tea", "tea"), ("pot", "ware"),
                                           ("cups", "ware"), ("tin", "tea"))}
        session.add_all(products.values())
        customers = [Customer(first_name=f"C{i}") for i in range(9)]
        session.add_all(customers)
        session.flush()
        baskets = [["tea", "pot", "cups"]] * 4 + [["tea", "pot", "tin"]] * 2 + [["tea"]] \
            + [["cups"]] * 2
        for n, (customer, basket) in enumerate(zip(customers, baskets, strict=True)):
            order = Transaction(source="shop", order_id=f"o{n}", customer_id=customer.id,
                                ordered_at=start + timedelta(days=n), amount=30.0)
            order.lines = [TransactionLine(line_no=k + 1, product_id=products[p].id,
                                           sku=p, quantity=1, unit_price=10.0)
                           for k, p in enumerate(basket)]
            session.add(order)
        return {"tea_only": customers[6].id, "pot_buyer": customers[4].id,
                **{name: product.id for name, product in products.items()}}


def test_refresh_stores_offers_rules_and_bundles(sqlite_engine: Engine) -> None:
    ids = _load(sqlite_engine)
    result = refresh.run(settings=get_settings(), as_of=AS_OF, store_engine=sqlite_engine)
    assert result.offers is not None and result.offers.rules > 0
    assert result.offers.customers_with_offers == 5  # 0-3 have every related product
    with session_scope(sqlite_engine) as session:
        tea_only = offer_service.for_customer(session=session, customer_id=ids["tea_only"])
        assert [o.name for o in tea_only.next_best] == ["Pot", "Cups"]  # never the tin
        assert tea_only.bundle is not None and tea_only.bundle.name == "Pot"
        assert tea_only.bundle.because_of == "Tea"
        pot_buyer = offer_service.for_customer(session=session,
                                               customer_id=ids["pot_buyer"])
        assert [o.name for o in pot_buyer.next_best] == ["Cups"]
        context = offer_service.template_context(session=session,
                                                 customer_id=ids["tea_only"])
        assert context == {"recommendations": ["Pot", "Cups"], "bundle": "Pot"}
        rules = offer_service.rules(session=session, category="tea")
        assert ("Tea", "Pot") in {(r.antecedent, r.consequent) for r in rules}
        stored = session.scalars(select(CustomerOffer.as_of).distinct()).all()
        assert stored == [AS_OF]
    again = refresh.run(settings=get_settings(), as_of=AS_OF, store_engine=sqlite_engine)
    assert again.offers is not None and again.offers.rows == result.offers.rows
