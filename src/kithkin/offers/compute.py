"""The refresh step: offers and rules computed on the analytics engine, then landed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import ibis.expr.types as ir
from sqlalchemy import Engine, delete

from kithkin.analytics import baskets
from kithkin.analytics.engine import AnalyticsSource, release, to_pandas
from kithkin.database import bulk
from kithkin.database.core import session_scope
from kithkin.offers.models import AssociationRule, CustomerOffer


@dataclass(frozen=True)
class OfferReport:
    customers_with_offers: int
    bundles: int
    rows: int
    rules: int


def refresh(*, store: Engine, source: AnalyticsSource, as_of: date) -> OfferReport:
    cached: list[ir.Table] = []
    try:
        tables = baskets.offer_expressions(source.transactions, source.lines,
                                           source.products, as_of=as_of, cached=cached)
        offers = to_pandas(source, tables["offers"])
        rules = to_pandas(source, tables["rules"])
    finally:
        for table in cached:
            release(source, table)
    with session_scope(store) as session:
        conn = session.connection()
        # The latest refresh's offers and rules replace the previous ones whole.
        offer_table, rule_table = bulk.table_of(CustomerOffer), bulk.table_of(AssociationRule)
        conn.execute(delete(offer_table))
        stored = bulk.append(conn, offer_table, offers.assign(as_of=as_of))
        conn.execute(delete(rule_table))
        stored_rules = bulk.append(conn, rule_table, rules.assign(as_of=as_of))
    return OfferReport(customers_with_offers=int(offers.product_1.notna().sum()),
                       bundles=int(offers.bundle_product_id.notna().sum()),
                       rows=stored, rules=stored_rules)
