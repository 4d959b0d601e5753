"""Next-best offers and bundles from purchase history, as Ibis expressions.

Written once for every engine (DuckDB, PostgreSQL, Spark), like the other analytics:

- **Item-to-item co-occurrence** (Linden, Smith & York 2003, "Amazon.com
  recommendations: item-to-item collaborative filtering", IEEE Internet Computing 7(1)):
  two products are similar when the same customers bought both, scored by cosine
  similarity over customers, ``both / sqrt(n_i * n_j)``; each product keeps its
  ``neighbours`` most similar products. A customer's candidates are the neighbours of
  what they bought, summed; what they already bought and discontinued products are
  left out. Each customer contributes at most their ``recent_items`` latest distinct
  products, which bounds the pair count per customer (and the cost at 1M customers).
- **Popularity** (the baseline a recommender must beat): the products bought by the most
  customers, less what each customer already has.
- **Association rules** over orders (Agrawal, Imieliński & Swami 1993): for products
  A and B bought in the same order, support = orders with both / orders, confidence =
  orders with both / orders with A, lift = confidence / share of orders with B.
- **Bundle suggestion**: per customer, the strongest rule whose antecedent they bought
  and whose consequent they have not.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
from ibis import _

from kithkin.analytics.periods import before_end_of

NEIGHBOURS = 10
RECENT_ITEMS = 10
TOP_K = 10
BUNDLE_PARTNERS = 5


def _available(products: ir.Table, as_of: date) -> ir.Table:
    """Products still sold at the as-of date: (product_id, category)."""
    current = products.discontinued_at.isnull() | ~before_end_of(products.discontinued_at,
                                                                 as_of)
    return products.filter(current).select(product_id=_.id, category=_.category)


def customer_items(transactions: ir.Table, lines: ir.Table, *, as_of: date,
                   recent_items: int = RECENT_ITEMS) -> ir.Table:
    """(customer_id, product_id, last_bought): distinct products each customer bought
    (a line with positive quantity) up to the as-of day, their latest ``recent_items``."""
    orders = transactions.filter(transactions.customer_id.notnull(),
                                 before_end_of(transactions.ordered_at, as_of)).select(
        order_id=_.id, customer_id=_.customer_id, ordered_at=_.ordered_at)
    bought = lines.filter(_.product_id.notnull(), _.quantity > 0)
    joined = bought.join(orders, bought.transaction_id == orders.order_id)
    distinct = joined.group_by(["customer_id", "product_id"]).aggregate(
        last_bought=_.ordered_at.max())
    ranked = distinct.mutate(rn=ibis.row_number().over(
        group_by="customer_id", order_by=[ibis.desc("last_bought"), ibis.desc("product_id")]))
    return ranked.filter(_.rn < recent_items).select(
        customer_id=_.customer_id.cast("int64"), product_id=_.product_id.cast("int64"),
        last_bought=_.last_bought)


def item_similarity(items: ir.Table, *, neighbours: int = NEIGHBOURS,
                    min_customers: int = 2) -> ir.Table:
    """(product_id, other_id, both, score): each product's most similar products."""
    counts = items.group_by("product_id").aggregate(n=_.count())
    left = items.select(customer_id=_.customer_id, a=_.product_id)
    right = items.select(customer_id2=_.customer_id, b=_.product_id)
    pairs = left.join(right, (left.customer_id == right.customer_id2) & (left.a != right.b))
    both = pairs.group_by(["a", "b"]).aggregate(both=_.count())
    both = both.filter(_.both >= min_customers)
    na = counts.select(pa_id=_.product_id, na=_.n)
    nb = counts.select(pb_id=_.product_id, nb=_.n)
    scored = both.join(na, both.a == na.pa_id).join(nb, both.b == nb.pb_id).select(
        product_id=_.a, other_id=_.b, both=_.both.cast("int64"),
        score=_.both.cast("float64") / (_.na.cast("float64") * _.nb.cast("float64")).sqrt())
    ranked = scored.mutate(rn=ibis.row_number().over(
        group_by="product_id", order_by=[ibis.desc("score"), "other_id"]))
    return ranked.filter(_.rn < neighbours).drop("rn")


def _top_per_customer(candidates: ir.Table, k: int) -> ir.Table:
    ranked = candidates.mutate(rank=ibis.row_number().over(
        group_by="customer_id", order_by=[ibis.desc("score"), "product_id"]))
    return ranked.filter(_.rank < k).mutate(rank=(_.rank + 1).cast("int64"))


def recommendations(items: ir.Table, similarity: ir.Table, products: ir.Table, *,
                    as_of: date, k: int = TOP_K) -> ir.Table:
    """(customer_id, product_id, score, rank): the ``k`` best products per customer."""
    sims = similarity.select(src=_.product_id, product_id=_.other_id, sim=_.score)
    candidates = items.select(customer_id=_.customer_id, src=_.product_id).join(
        sims, "src").group_by(["customer_id", "product_id"]).aggregate(score=_.sim.sum())
    owned = items.select(o_customer=_.customer_id, o_product=_.product_id)
    fresh = candidates.anti_join(owned, (candidates.customer_id == owned.o_customer)
                                 & (candidates.product_id == owned.o_product))
    sold = _available(products, as_of).select(s_product=_.product_id)
    fresh = fresh.semi_join(sold, fresh.product_id == sold.s_product)
    return _top_per_customer(fresh, k).select("customer_id", "product_id", "score", "rank")


def popularity(items: ir.Table, products: ir.Table, *, as_of: date, k: int = TOP_K,
               pool: int = 50, customers: ir.Table | None = None) -> ir.Table:
    """(customer_id, product_id, score, rank): the most bought products the customer does
    not have yet (from the ``pool`` most popular), for every buyer or for ``customers``
    (a table with ``customer_id``)."""
    sold = _available(products, as_of).select(s_product=_.product_id)
    counts = items.group_by("product_id").aggregate(score=_.count().cast("float64"))
    counts = counts.semi_join(sold, counts.product_id == sold.s_product)
    top = counts.mutate(rn=ibis.row_number().over(
        order_by=[ibis.desc("score"), "product_id"])).filter(_.rn < pool).drop("rn")
    chosen = (customers if customers is not None else items).select("customer_id").distinct()
    candidates = chosen.cross_join(top)
    owned = items.select(o_customer=_.customer_id, o_product=_.product_id)
    fresh = candidates.anti_join(owned, (candidates.customer_id == owned.o_customer)
                                 & (candidates.product_id == owned.o_product))
    return _top_per_customer(fresh, k).select("customer_id", "product_id", "score", "rank")


def association_rules(transactions: ir.Table, lines: ir.Table, products: ir.Table, *,
                      as_of: date, min_orders: int = 5) -> ir.Table:
    """(antecedent_id, consequent_id, category, orders_both, support, confidence, lift)
    over orders up to the as-of day; pairs seen in fewer than ``min_orders`` orders are
    dropped (too rare to act on)."""
    orders = transactions.filter(before_end_of(transactions.ordered_at, as_of)).select(
        order_id=_.id)
    baskets = lines.filter(_.product_id.notnull(), _.quantity > 0).join(
        orders, lines.transaction_id == orders.order_id).select(
        order_id=_.transaction_id, product_id=_.product_id).distinct()
    total = baskets.order_id.nunique().as_scalar()
    counts = baskets.group_by("product_id").aggregate(n=_.count())
    left = baskets.select(order_a=_.order_id, a=_.product_id)
    right = baskets.select(order_b=_.order_id, b=_.product_id)
    both = left.join(right, (left.order_a == right.order_b) & (left.a != right.b)).group_by(
        ["a", "b"]).aggregate(both=_.count()).filter(_.both >= min_orders)
    na = counts.select(pa_id=_.product_id, na=_.n)
    nb = counts.select(pb_id=_.product_id, nb=_.n)
    category = products.select(c_id=_.id, category=_.category)
    rules = both.join(na, both.a == na.pa_id).join(nb, both.b == nb.pb_id).left_join(
        category, both.a == category.c_id)
    n = total.cast("float64")
    return rules.select(
        antecedent_id=_.a.cast("int64"), consequent_id=_.b.cast("int64"),
        category=_.category, orders_both=_.both.cast("int64"),
        support=_.both.cast("float64") / n,
        confidence=_.both.cast("float64") / _.na.cast("float64"),
        lift=(_.both.cast("float64") / _.na.cast("float64")) / (_.nb.cast("float64") / n),
    )


def bundle_suggestions(items: ir.Table, rules: ir.Table, products: ir.Table, *,
                       as_of: date, min_lift: float = 1.0) -> ir.Table:
    """(customer_id, product_id, score, rank=1, antecedent_id): per customer, the
    strongest rule (confidence × lift) from a product they bought to one they have not."""
    strong = rules.filter(_.lift > min_lift).select(
        src=_.antecedent_id, product_id=_.consequent_id,
        strength=_.confidence * _.lift)
    # A product's few strongest partners are enough: the customer gets one bundle.
    strong = strong.mutate(rn=ibis.row_number().over(
        group_by="src", order_by=[ibis.desc("strength"), "product_id"])).filter(
        _.rn < BUNDLE_PARTNERS).drop("rn")
    candidates = items.select(customer_id=_.customer_id, src=_.product_id).join(strong, "src")
    owned = items.select(o_customer=_.customer_id, o_product=_.product_id)
    fresh = candidates.anti_join(owned, (candidates.customer_id == owned.o_customer)
                                 & (candidates.product_id == owned.o_product))
    sold = _available(products, as_of).select(s_product=_.product_id)
    fresh = fresh.semi_join(sold, fresh.product_id == sold.s_product)
    ranked = fresh.mutate(rn=ibis.row_number().over(
        group_by="customer_id", order_by=[ibis.desc("strength"), "product_id", "src"]))
    return ranked.filter(_.rn == 0).select(
        customer_id=_.customer_id, product_id=_.product_id, score=_.strength,
        rank=ibis.literal(1, "int64"), antecedent_id=_.src)


def offer_expressions(transactions: ir.Table, lines: ir.Table, products: ir.Table, *,
                      as_of: date, cached: list[ir.Table], min_rule_orders: int = 5,
                      rules_per_category: int = 25) -> dict[str, ir.Table]:
    """What the refresh stores: ``offers`` (per customer, the ranked next-best products:
    co-occurrence, or popularity for the customers it cannot serve, named by ``method``;
    and the bundle) and ``rules`` (the strongest per category). The customer-product
    pairs, the similarities and the rules each feed several expressions, so they are
    cached on the engine once (a temporary table on DuckDB and PostgreSQL, a cached frame
    on Spark) instead of recomputed; they are appended to ``cached`` for the caller to
    release when done."""
    items = customer_items(transactions, lines, as_of=as_of).cache()
    similar = item_similarity(items).cache()
    learned = recommendations(items, similar, products, as_of=as_of).cache()
    cached.extend((items, similar, learned))
    served = learned.select(s_customer=_.customer_id).distinct()
    unserved = items.anti_join(served, items.customer_id == served.s_customer)
    popular = popularity(items, products, as_of=as_of, customers=unserved)
    rules = association_rules(transactions, lines, products, as_of=as_of,
                              min_orders=min_rule_orders).filter(_.lift > 1).cache()
    cached.append(rules)
    ranked = rules.mutate(rn=ibis.row_number().over(
        group_by="category", order_by=[ibis.desc("lift"), ibis.desc("orders_both"),
                                       "antecedent_id", "consequent_id"]))
    next_best = _ranked_types(learned, "item_cosine").union(
        _ranked_types(popular, "popular"))
    bundles = bundle_suggestions(items, rules, products, as_of=as_of).select(
        b_customer=_.customer_id, bundle_product_id=_.product_id,
        bundle_antecedent_id=_.antecedent_id, bundle_score=_.score)
    return {
        "offers": _one_row_per_customer(next_best, bundles),
        "rules": ranked.filter(_.rn < rules_per_category).drop("rn"),
    }


def _ranked_types(offers: ir.Table, method: str) -> ir.Table:
    """One schema for both sides of the union: a cached table read back from Spark
    reports its row numbers as int32."""
    return offers.select(customer_id=_.customer_id.cast("int64"),
                         product_id=_.product_id.cast("int64"),
                         score=_.score.cast("float64"), rank=_.rank.cast("int64"),
                         method=ibis.literal(method))


def _one_row_per_customer(next_best: ir.Table, bundles: ir.Table) -> ir.Table:
    """(customer_id, method, product_1..product_K, bundle_*): K ranked offers as columns,
    so the store takes one row per customer rather than K (a million customers are a
    million rows, not ten million)."""
    wide = next_best.group_by("customer_id").aggregate(
        method=_.method.max(),
        **{f"product_{n}": _.product_id.max(where=_.rank == n) for n in range(1, TOP_K + 1)})
    joined = wide.outer_join(bundles, wide.customer_id == bundles.b_customer)
    return joined.select(
        customer_id=wide.customer_id.coalesce(bundles.b_customer).cast("int64"),
        method=wide.method,
        **{f"product_{n}": wide[f"product_{n}"].cast("int64") for n in range(1, TOP_K + 1)},
        bundle_product_id=bundles.bundle_product_id.cast("int64"),
        bundle_antecedent_id=bundles.bundle_antecedent_id.cast("int64"),
        bundle_score=bundles.bundle_score)
