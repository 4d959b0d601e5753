"""The product catalogue: categories with their own price levels and margins, and bundles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from kithkin.simulate import vocab
from kithkin.simulate.arrow_ops import concat, prefixed_ids, take

PRODUCTS_PER_CATEGORY = 48
BUNDLES = 12
BUNDLE_DISCOUNT = 0.1


@dataclass(frozen=True)
class Catalogue:
    """Products sorted by (category, list price), prices in cents.

    ``search_key`` = category * 1e9 + price lets one ``searchsorted`` find, for every
    order line at once, the products of its category in a price window.
    """

    table: pa.Table
    sku: pa.Array
    category: np.ndarray
    price_cents: np.ndarray
    cost_cents: np.ndarray
    category_start: np.ndarray
    category_end: np.ndarray
    search_key: np.ndarray
    by_price: np.ndarray  # product indices in ascending price, across categories
    bundle_names: tuple[str, ...]
    bundle_products: tuple[np.ndarray, ...]


def build_catalogue(rng: np.random.Generator) -> Catalogue:
    rows = []
    for index, (nouns, median_price, margin) in enumerate(vocab.CATEGORIES.values()):
        price = np.round(median_price * rng.lognormal(0, 0.6, PRODUCTS_PER_CATEGORY), 0) - 0.01
        price = np.maximum(price, 0.99)
        cost = np.round(price * (1 - np.clip(rng.normal(margin, 0.06, len(price)), 0.02, 0.9)), 2)
        rows.append((np.full(len(price), index), price, cost,
                     rng.integers(0, len(nouns), len(price))))
    category = np.concatenate([r[0] for r in rows])
    price = np.concatenate([r[1] for r in rows])
    cost = np.concatenate([r[2] for r in rows])
    noun = np.concatenate([r[3] for r in rows])
    order = np.lexsort((price, category))
    category, price, cost, noun = category[order], price[order], cost[order], noun[order]
    names = list(vocab.CATEGORIES)
    product_nouns = [vocab.CATEGORIES[names[c]][0][k] for c, k in zip(category, noun, strict=True)]
    sku = prefixed_ids("SKU-", np.arange(1, len(price) + 1), 5)
    adjective = take(vocab.PRODUCT_ADJECTIVES, rng.integers(0, len(vocab.PRODUCT_ADJECTIVES),
                                                            len(price)))
    table = pa.table({
        "sku": sku,
        "name": concat(adjective, " ", pa.array(product_nouns, pa.string())),
        "category": take(names, category),
        "list_price": pa.array(price),
        "unit_cost": pa.array(cost),
    })
    price_cents = np.round(price * 100).astype(np.int64)
    starts = np.searchsorted(category, np.arange(len(names)))
    ends = np.searchsorted(category, np.arange(len(names)), side="right")
    bundle_products = tuple(
        rng.choice(len(price), rng.integers(2, 4), replace=False) for _ in range(BUNDLES)
    )
    return Catalogue(
        table=table, sku=sku, category=category, price_cents=price_cents,
        cost_cents=np.round(cost * 100).astype(np.int64),
        category_start=starts, category_end=ends,
        search_key=category * 1_000_000_000 + price_cents,
        by_price=np.argsort(price_cents, kind="stable"),
        bundle_names=tuple(f"bundle-{k + 1:02d}" for k in range(BUNDLES)),
        bundle_products=bundle_products,
    )
