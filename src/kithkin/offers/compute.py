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
from kithkin.offers.models import AssociationRule, CustomerOffer, OfferKind


@dataclass(frozen=True)
class OfferReport:
    customers_with_offers: int
    offers: int
    bundles: int
    rules: int


def refresh(*, store: Engine, source: AnalyticsSource, as_of: date) -> OfferReport:
    cached: list[ir.Table] = []
    try:
        tables = baskets.offer_expressions(source.transactions, source.lines,
                                           source.products, as_of=as_of, cached=cached)
        next_best = to_pandas(source, tables["next_best"])
        bundles = to_pandas(source, tables["bundles"])
        rules = to_pandas(source, tables["rules"])
    finally:
        for table in cached:
            release(source, table)
    next_best["kind"], bundles["kind"] = OfferKind.NEXT_BEST, OfferKind.BUNDLE
    bundles["method"] = "rule"
    offer_table = bulk.table_of(CustomerOffer)
    with session_scope(store) as session:
        conn = session.connection()
        offers = bulk.replace_block(conn, offer_table, next_best.assign(as_of=as_of),
                                    where={"kind": OfferKind.NEXT_BEST})
        bundled = bulk.replace_block(conn, offer_table, bundles.assign(as_of=as_of),
                                     where={"kind": OfferKind.BUNDLE})
        rule_table = bulk.table_of(AssociationRule)
        conn.execute(delete(rule_table))  # the rules of the latest refresh only
        stored_rules = bulk.append(conn, rule_table, rules.assign(as_of=as_of))
    return OfferReport(customers_with_offers=int(next_best.customer_id.nunique()),
                       offers=offers, bundles=bundled, rules=stored_rules)
