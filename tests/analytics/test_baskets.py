"""Next-best offers, popularity, association rules and bundles against hand-computed
values (DuckDB in memory; test_analytics_engines proves the other engines agree)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import ibis
import pandas as pd
import pytest

from kithkin.analytics import baskets

AS_OF = date(2025, 6, 30)


def at(day: int) -> datetime:
    return datetime(2025, 1, day, tzinfo=UTC)


@pytest.fixture
def tables() -> dict[str, ibis.Table]:
    """Orders: c1 {tea, pot}, c2 {tea, pot, cups}, c3 {tea, cups}, c4 {tea}; c5 bought
    the discontinued tin; a return line (negative quantity) and an order after as-of are
    ignored."""
    tx = pd.DataFrame({
        "id": [1, 2, 3, 4, 5, 6, 7],
        "customer_id": [1, 2, 3, 4, 5, 1, 4],
        "ordered_at": [at(1), at(2), at(3), at(4), at(5), at(6),
                       datetime(2025, 7, 9, tzinfo=UTC)],
    })
    # products: 10 tea, 11 pot, 12 cups, 13 tin (discontinued)
    lines = pd.DataFrame({
        "transaction_id": [1, 1, 2, 2, 2, 3, 3, 4, 5, 6, 7],
        "product_id": [10, 11, 10, 11, 12, 10, 12, 10, 13, 12, 11],
        "quantity": [1.0, 1, 1, 1, 1, 1, 1, 1, 1, -1, 1],
    })
    products = pd.DataFrame({
        "id": [10, 11, 12, 13], "category": ["tea", "ware", "ware", "tea"],
        "discontinued_at": [None, None, None, at(20)],
    })
    products["discontinued_at"] = pd.to_datetime(products["discontinued_at"], utc=True)
    return {"transactions": ibis.memtable(tx), "lines": ibis.memtable(lines),
            "products": ibis.memtable(products)}


def run(expr: ibis.Table, keys: list[str]) -> pd.DataFrame:
    return ibis.duckdb.connect().to_pandas(expr).sort_values(keys).reset_index(drop=True)


def test_item_similarity_is_cosine_over_customers(tables: dict[str, ibis.Table]) -> None:
    items = baskets.customer_items(tables["transactions"], tables["lines"], as_of=AS_OF)
    sims = run(baskets.item_similarity(items, min_customers=1), ["product_id", "other_id"])
    got = {(r.product_id, r.other_id): round(r.score, 6) for r in sims.itertuples()}
    # tea by 4 customers, pot by 2, cups by 2 (the return does not count), both pairs 2/1.
    assert got[(10, 11)] == round(2 / math.sqrt(4 * 2), 6)
    assert got[(11, 12)] == round(1 / math.sqrt(2 * 2), 6)
    assert (10, 13) not in got  # the tin's only buyer bought nothing else


def test_recommendations_exclude_owned_and_discontinued(
        tables: dict[str, ibis.Table]) -> None:
    items = baskets.customer_items(tables["transactions"], tables["lines"], as_of=AS_OF)
    sims = baskets.item_similarity(items, min_customers=1)
    recs = run(baskets.recommendations(items, sims, tables["products"], as_of=AS_OF),
               ["customer_id", "rank"])
    by_customer = recs.groupby("customer_id").product_id.apply(list).to_dict()
    # c4 (tea only): pot and cups tie on 2/sqrt(8); the lower id ranks first.
    assert by_customer[4] == [11, 12]
    assert by_customer[1] == [12] and by_customer[3] == [11]  # what they lack
    assert 2 not in by_customer  # has everything related already
    assert 13 not in set(recs.product_id)  # discontinued
    popular = run(baskets.popularity(items, tables["products"], as_of=AS_OF),
                  ["customer_id", "rank"])
    assert popular[popular.customer_id == 5].product_id.tolist() == [10, 11, 12]


def test_association_rules_support_confidence_lift(tables: dict[str, ibis.Table]) -> None:
    rules = run(baskets.association_rules(tables["transactions"], tables["lines"],
                                          tables["products"], as_of=AS_OF, min_orders=1),
                ["antecedent_id", "consequent_id"])
    tea_pot = rules[(rules.antecedent_id == 10) & (rules.consequent_id == 11)].iloc[0]
    # 5 orders with a bought line before as-of (order 6 is only a return): tea in 4,
    # pot in 2, both in 2.
    assert tea_pot.support == pytest.approx(2 / 5)
    assert tea_pot.confidence == pytest.approx(2 / 4)
    assert tea_pot.lift == pytest.approx((2 / 4) / (2 / 5))
    assert tea_pot.category == "tea"
    items = baskets.customer_items(tables["transactions"], tables["lines"], as_of=AS_OF)
    bundles = run(baskets.bundle_suggestions(
        items, baskets.association_rules(tables["transactions"], tables["lines"],
                                         tables["products"], as_of=AS_OF, min_orders=1),
        tables["products"], as_of=AS_OF), ["customer_id"])
    suggested = dict(zip(bundles.customer_id, bundles.product_id, strict=True))
    # Every rule here has lift 1.25 and confidence 0.5: ties go to the lower product id.
    # c2 owns all three; c5's tin is in no rule.
    assert suggested == {1: 12, 3: 11, 4: 11}
