"""Orders and their lines: the purchase process made concrete.

Every customer's first order is at acquisition; repeat orders are a Poisson process
with rate lambda over the active period (so a fitted Pareto/NBD or BG/NBD sees exactly
its assumed process). Order value is drawn from the customer's Gamma spend and split
into lines of products whose prices fit the line's value. Money is computed in integer
cents, so each order's amount equals the sum of its lines exactly:
``amount = sum(quantity * unit_price - discount)`` and ``cost = sum(quantity * unit_cost)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kithkin.simulate import vocab
from kithkin.simulate.arrow_ops import choice_index, prefixed_ids, take
from kithkin.simulate.catalogue import BUNDLE_DISCOUNT, Catalogue
from kithkin.simulate.latent import DAY, Latent
from kithkin.simulate.schemas import SimulationParams

SOURCE = "shop"
FAVOURITE_CATEGORY_SHARE = 0.6
MAX_QUANTITY = 12
DISCOUNT_STEPS = np.array([0.05, 0.1, 0.15, 0.2, 0.25])


@dataclass(frozen=True)
class Orders:
    transactions: pa.Table
    lines: pa.Table
    customer: np.ndarray  # chunk-local customer index of each purchase (refunds excluded)


@dataclass
class _Lines:
    order: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    discount_cents: np.ndarray
    bundle: np.ndarray  # bundle index or -1


def _purchase_times(rng: np.random.Generator, latent: Latent) -> tuple[np.ndarray, np.ndarray]:
    repeats = rng.poisson(latent.lam * latent.active_days)
    customer = np.repeat(np.arange(len(repeats)), repeats + 1)
    first = np.r_[0, np.cumsum(repeats + 1)[:-1]]
    offset_days = rng.random(len(customer)) * latent.active_days[customer]
    offset_days[first] = 0.0
    ordered_at = latent.acquired[customer] + (offset_days * DAY).astype(np.int64)
    order = np.lexsort((ordered_at, customer))
    return customer[order], ordered_at[order]


def _nearest(prices: np.ndarray, at: np.ndarray, low: np.ndarray | int, high: np.ndarray | int,
             wanted: np.ndarray) -> np.ndarray:
    """Of the neighbours ``at - 1`` and ``at`` (kept in [low, high]), the closer in price."""
    above, below = np.clip(at, low, high), np.clip(at - 1, low, high)
    closer_below = np.abs(prices[below] - wanted) <= np.abs(prices[above] - wanted)
    chosen: np.ndarray = np.where(closer_below, below, above)
    return chosen


def _fitting_products(catalogue: Catalogue, category: np.ndarray,
                      unit_cents: np.ndarray) -> np.ndarray:
    """The product of each line's category priced nearest its wanted unit price.

    When even the category's cheapest product is far above the wanted price, the
    nearest-priced product of any category, so small orders stay small.
    """
    start, stop = catalogue.category_start[category], catalogue.category_end[category]
    at = np.searchsorted(catalogue.search_key, category * 1_000_000_000 + unit_cents)
    product = _nearest(catalogue.price_cents, at, start, stop - 1, unit_cents)
    too_dear = catalogue.price_cents[product] > 1.25 * unit_cents
    wanted = unit_cents[too_dear]
    by_price = catalogue.by_price
    sorted_prices = catalogue.price_cents[by_price]
    at_any = np.searchsorted(sorted_prices, wanted)
    product[too_dear] = by_price[_nearest(sorted_prices, at_any, 0, len(by_price) - 1, wanted)]
    return product


def _regular_lines(
    rng: np.random.Generator, latent: Latent, catalogue: Catalogue, customer: np.ndarray,
    value_cents: np.ndarray,
) -> _Lines:
    """Lines whose net total is close to ``value_cents`` per order.

    The value, grossed up for the order's discount, is split at random over the lines;
    each line takes the product priced nearest its share divided by a small quantity, so
    realised amounts stay within a few percent of the drawn value.
    """
    n_orders = len(customer)
    discounted = rng.random(n_orders) < 0.05 + 0.35 * latent.price_sensitivity[customer]
    rate = np.where(discounted, DISCOUNT_STEPS[rng.integers(0, len(DISCOUNT_STEPS), n_orders)],
                    0.0)
    gross_cents = value_cents / (1 - rate)
    counts = 1 + rng.poisson(0.8, n_orders)
    order = np.repeat(np.arange(n_orders), counts)
    share = rng.gamma(2.5, 1.0, len(order))  # Dirichlet shares, rarely tiny
    share /= np.bincount(order, weights=share, minlength=n_orders)[order]
    line_cents = gross_cents[order] * share
    owner = customer[order]
    favourite = rng.random(len(order)) < FAVOURITE_CATEGORY_SHARE
    category = np.where(favourite, latent.favourite_category[owner],
                        rng.integers(0, len(catalogue.category_start), len(order)))
    wanted_quantity = np.minimum(rng.geometric(0.6, len(order)), MAX_QUANTITY)
    product = _fitting_products(catalogue, category, line_cents / wanted_quantity)
    price = catalogue.price_cents[product]
    quantity = np.clip(np.rint(line_cents / price), 1, MAX_QUANTITY).astype(np.int64)
    return _Lines(order=order, product=product, quantity=quantity,
                  discount_cents=np.rint(quantity * price * rate[order]).astype(np.int64),
                  bundle=np.full(len(order), -1))


def _bundle_lines(rng: np.random.Generator, catalogue: Catalogue, value_cents: np.ndarray,
                  rate: float) -> _Lines:
    """A bundle in a share of orders: one of those costing at most 90% of the order value."""
    bundle_value = np.array([
        np.rint(catalogue.price_cents[p] * (1 - BUNDLE_DISCOUNT)).sum()
        for p in catalogue.bundle_products
    ])
    by_value = np.argsort(bundle_value)
    affordable = np.searchsorted(bundle_value[by_value], 0.9 * value_cents, side="right")
    orders = np.flatnonzero((rng.random(len(value_cents)) < rate) & (affordable > 0))
    bundle = by_value[(rng.random(len(orders)) * affordable[orders]).astype(np.int64)]
    sizes = np.array([len(p) for p in catalogue.bundle_products])[bundle]
    members = np.concatenate(catalogue.bundle_products)
    member_start = np.r_[0, np.cumsum([len(p) for p in catalogue.bundle_products])[:-1]]
    line_bundle = np.repeat(bundle, sizes)
    rank = np.arange(len(line_bundle)) - np.repeat(np.r_[0, np.cumsum(sizes)[:-1]], sizes)
    product = members[member_start[line_bundle] + rank]
    price = catalogue.price_cents[product]
    return _Lines(order=np.repeat(orders, sizes), product=product,
                  quantity=np.ones(len(product), dtype=np.int64),
                  discount_cents=np.rint(price * BUNDLE_DISCOUNT).astype(np.int64),
                  bundle=line_bundle)


def _merge(a: _Lines, b: _Lines) -> _Lines:
    merged = _Lines(*(np.concatenate([getattr(a, f), getattr(b, f)])
                      for f in ("order", "product", "quantity", "discount_cents", "bundle")))
    order = np.argsort(merged.order, kind="stable")
    return _Lines(*(getattr(merged, f)[order]
                    for f in ("order", "product", "quantity", "discount_cents", "bundle")))


def _line_numbers(order: np.ndarray) -> np.ndarray:
    starts = np.r_[0, np.flatnonzero(np.diff(order)) + 1]
    sizes = np.diff(np.r_[starts, len(order)])
    numbers: np.ndarray = np.arange(len(order)) - np.repeat(starts, sizes) + 1
    return numbers.astype(np.int32)


def _tables(
    lines: _Lines, catalogue: Catalogue, order_ids: pa.Array, ordered_at: np.ndarray,
    customer_ids: pa.Array, channel: np.ndarray, currency: str,
) -> tuple[pa.Table, pa.Table]:
    n_orders = len(ordered_at)
    price = catalogue.price_cents[lines.product]
    unit_cost = catalogue.cost_cents[lines.product]
    net = lines.quantity * price - lines.discount_cents

    def per_order(cents: np.ndarray) -> np.ndarray:
        return np.bincount(lines.order, weights=cents, minlength=n_orders).round() / 100

    bundle_names = list(catalogue.bundle_names)
    line_table = pa.table({
        "source": pa.array([SOURCE] * len(lines.order), pa.string()),
        "order_id": order_ids.take(pa.array(lines.order)),
        "line_no": pa.array(_line_numbers(lines.order)),
        "sku": catalogue.sku.take(pa.array(lines.product)),
        "quantity": pa.array(lines.quantity.astype(np.int32)),
        "unit_price": pa.array(price / 100),
        "discount": pa.array(lines.discount_cents / 100),
        "unit_cost": pa.array(unit_cost / 100),
        "bundle": take(bundle_names, np.maximum(lines.bundle, 0), mask=lines.bundle < 0),
    })
    transactions = pa.table({
        "source": pa.array([SOURCE] * n_orders, pa.string()),
        "order_id": order_ids,
        "customer_external_id": customer_ids,
        "customer_source": pa.array([SOURCE] * n_orders, pa.string()),
        "ordered_at": pa.array(ordered_at, pa.timestamp("s", tz="UTC")),
        "amount": pa.array(per_order(net)),
        "cost": pa.array(per_order(lines.quantity * unit_cost)),
        "discount": pa.array(per_order(lines.discount_cents)),
        "currency": pa.array([currency] * n_orders, pa.string()),
        "channel": take(vocab.ORDER_CHANNELS, channel),
    })
    return transactions, line_table


def _refund_lines(lines: _Lines, refunded: np.ndarray) -> _Lines:
    """The first line of each refunded order, negated: one refund order per order."""
    first_line = np.searchsorted(lines.order, refunded)
    return _Lines(order=np.arange(len(refunded)), product=lines.product[first_line],
                  quantity=-lines.quantity[first_line],
                  discount_cents=-lines.discount_cents[first_line],
                  bundle=lines.bundle[first_line])


def draw_orders(
    rng: np.random.Generator, latent: Latent, customer_ids: pa.Array, catalogue: Catalogue,
    params: SimulationParams, *, first_number: int, end: int,
) -> Orders:
    """Purchases, then refunds of a small share of them (negative orders ``<id>-R``)."""
    customer, ordered_at = _purchase_times(rng, latent)
    n_orders = len(customer)
    # Gamma-Gamma order value (Fader, Hardie & Lee 2005), filled by a bundle and lines.
    value_cents = rng.gamma(params.p, 1 / latent.nu[customer]) * 100
    bundles = _bundle_lines(rng, catalogue, value_cents, params.bundle_rate)
    bundle_cents = np.bincount(
        bundles.order, weights=catalogue.price_cents[bundles.product] - bundles.discount_cents,
        minlength=n_orders)
    lines = _merge(
        _regular_lines(rng, latent, catalogue, customer, value_cents - bundle_cents), bundles)
    usual = rng.random(n_orders) < 0.75
    channel = np.where(usual, latent.preferred_channel[customer],
                       choice_index(rng, n_orders, vocab.ORDER_CHANNEL_WEIGHTS))
    order_ids = prefixed_ids("O", first_number + np.arange(n_orders), 9)
    owner_ids = customer_ids.take(pa.array(customer))
    transactions, line_table = _tables(lines, catalogue, order_ids, ordered_at, owner_ids,
                                       channel, params.currency)

    refunded = np.flatnonzero(rng.random(n_orders) < params.refund_rate)
    refund_at = ordered_at[refunded] + rng.integers(1, 30 * DAY, len(refunded))
    keep = refund_at < end
    refunded, refund_at = refunded[keep], refund_at[keep]
    refund_tx, refund_line_table = _tables(
        _refund_lines(lines, refunded), catalogue,
        pc.binary_join_element_wise(order_ids.take(pa.array(refunded)), "-R", ""), refund_at,
        owner_ids.take(pa.array(refunded)), channel[refunded], params.currency)
    return Orders(
        transactions=pa.concat_tables([transactions, refund_tx]),
        lines=pa.concat_tables([line_table, refund_line_table]),
        customer=customer,
    )
