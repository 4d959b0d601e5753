"""Per-customer aggregates of raw events that the relationship engine reads and the
metrics contract does not carry (see :data:`kithkin.relationships.catalog.RELATIONSHIP_INPUTS`).

They are Ibis expressions over the analytics tables, so ``kithkin refresh`` computes them
on the same engine and from the same snapshot as every other metric (DuckDB, PostgreSQL
or Spark alike), instead of a second pass over the store. Every function counts events up
to the end of the as-of day (UTC), like :mod:`kithkin.analytics.features`:

- ``community_interactions``: interactions tagged ``community`` or ``event`` (any case);
- ``bundles_bought``: order lines that name a bundle;
- category spend: net line spend (``quantity * unit_price``, refunds included) per
  customer and product category;
- attribute inputs: ``has_preferences`` from the customer's first-class preferences
  (:mod:`kithkin.preferences`; the snapshot's ``preference_items``), or, for a customer
  nobody has edited them for, the imported ``preferences`` attribute; ``has_account_manager``,
  ``has_price_lock``, ``integrations``, ``shared_processes``, ``customized_orders`` from the
  customer's attributes (decoded from JSON by the snapshot, see
  :data:`kithkin.analytics.snapshot.ATTRIBUTE_KEYS`) and assigned account manager. These
  are current state (attributes keep no history), like the store they were read from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from kithkin.analytics.engine import AnalyticsSource, to_pandas
from kithkin.analytics.periods import before_end_of

COMMUNITY_TAGS = ("community", "event")
ATTRIBUTE_INPUT_COLUMNS = ("has_preferences", "has_account_manager", "has_price_lock",
                           "integrations", "shared_processes", "customized_orders")
EVENT_INPUT_COLUMNS = ("customer_id", *ATTRIBUTE_INPUT_COLUMNS, "community_interactions",
                       "bundles_bought")
SPEND_COLUMNS = ("customer_id", "category", "amount")


def _orders_by(transactions: ir.Table, *, as_of: date) -> ir.Table:
    """Transactions of a customer up to the as-of day: (order_id, customer_id)."""
    return transactions.filter(transactions.customer_id.notnull(),
                               before_end_of(transactions.ordered_at, as_of)).select(
        order_id=_.id, customer_id=_.customer_id)


def community_interactions(interactions: ir.Table, *, as_of: date) -> ir.Table:
    """(customer_id, community_interactions). The snapshot keeps ``tags`` as its JSON
    text (a list of strings), so a tag is matched as a quoted JSON string: ``"event"``
    matches the tag ``Event`` but not ``events`` nor a tag that merely contains it."""
    text = interactions.tags.lower()
    tagged = ibis.or_(*(text.contains(json.dumps(tag)) for tag in COMMUNITY_TAGS))
    events = interactions.filter(_.customer_id.notnull(), _.tags.notnull(), tagged,
                                 before_end_of(interactions.occurred_at, as_of))
    return events.group_by("customer_id").aggregate(
        community_interactions=_.count().cast("int64"))


def bundles_bought(transactions: ir.Table, lines: ir.Table, *, as_of: date) -> ir.Table:
    """(customer_id, bundles_bought): order lines with a bundle."""
    orders = _orders_by(transactions, as_of=as_of)
    bundled = lines.filter(_.bundle.notnull())
    joined = bundled.join(orders, bundled.transaction_id == orders.order_id)
    return joined.group_by("customer_id").aggregate(bundles_bought=_.count().cast("int64"))


def event_inputs(interactions: ir.Table, transactions: ir.Table, lines: ir.Table, *,
                 as_of: date) -> ir.Table:
    """One row per customer with community interactions or bundles (the other is null
    when the customer has none of it)."""
    community = community_interactions(interactions, as_of=as_of)
    bundles = bundles_bought(transactions, lines, as_of=as_of)
    joined = community.outer_join(bundles, community.customer_id == bundles.customer_id)
    return joined.select(
        customer_id=community.customer_id.coalesce(bundles.customer_id).cast("int64"),
        community_interactions=community.community_interactions,
        bundles_bought=bundles.bundles_bought,
    )


def _attribute_count(customers: ir.Table, key: str) -> ir.IntegerValue:
    """How many of a thing an attribute names: the non-blank parts of ``;``-separated
    text, the items of a list or object, a number (truncated), 1/0 for true/false,
    0 when absent or null."""
    text = customers[f"attr_{key}_text"]
    size = customers[f"attr_{key}_size"]
    parts = text.split(";").filter(lambda part: part.strip() != "").length()
    truncated = ibis.ifelse(size < 0, size.ceil(), size.floor())
    # by cases, not coalesce: PostgreSQL filters a null array into an empty one
    count: ir.IntegerValue = ibis.cases(
        (text.notnull(), parts.cast("int64")), (size.notnull(), truncated.cast("int64")),
        else_=ibis.literal(0, "int64"))
    return count


def attribute_inputs(customers: ir.Table) -> ir.Table:
    """(customer_id, ATTRIBUTE_INPUT_COLUMNS) of every customer with attributes, edited
    preferences or an assigned account manager (others have none of these inputs:
    unknown, not false). Edited preferences win over the imported attribute, even when
    emptied: staff cleared them."""
    known = customers.filter((customers.has_attributes == 1)
                             | customers.preference_items.notnull()
                             | customers.account_manager_id.notnull())

    def count(key: str) -> ir.IntegerValue:
        return _attribute_count(known, key)

    return known.select(
        customer_id=known.id.cast("int64"),
        has_preferences=ibis.ifelse(known.preference_items.notnull(),
                                    known.preference_items > 0, count("preferences") > 0),
        has_account_manager=known.account_manager_id.notnull() | (count("account_manager") > 0),
        has_price_lock=count("price_lock") > 0,
        integrations=count("integrations"),
        shared_processes=count("shared_processes"),
        customized_orders=count("customized_orders"),
    )


def relationship_inputs(source: AnalyticsSource, *, as_of: date) -> ir.Table:
    """Every derived input per customer: attribute inputs and event aggregates, one row
    per customer that has any of them (the missing side is null)."""
    attributes = attribute_inputs(source.customers)
    events = event_inputs(source.interactions, source.transactions, source.lines,
                          as_of=as_of)
    joined = attributes.outer_join(events, attributes.customer_id == events.customer_id)
    return joined.select(
        customer_id=attributes.customer_id.coalesce(events.customer_id).cast("int64"),
        **{name: attributes[name] for name in ATTRIBUTE_INPUT_COLUMNS},
        community_interactions=events.community_interactions,
        bundles_bought=events.bundles_bought,
    )


def category_spend(transactions: ir.Table, lines: ir.Table, products: ir.Table, *,
                   as_of: date) -> ir.Table:
    """(customer_id, category, amount): net line spend per product category."""
    orders = _orders_by(transactions, as_of=as_of)
    categorised = products.filter(_.category.notnull()).select(
        product=_.id, category=_.category)
    joined = lines.join(orders, lines.transaction_id == orders.order_id).join(
        categorised, lines.product_id == categorised.product)
    return joined.group_by("customer_id", "category").aggregate(
        amount=(_.quantity * _.unit_price).sum().cast("float64"))


@dataclass(frozen=True)
class RelationshipEvents:
    """The event aggregates of one as-of date, as the relationship engine takes them."""

    per_customer: pd.DataFrame  # EVENT_INPUT_COLUMNS
    category_spend: pd.DataFrame  # SPEND_COLUMNS


def compute(source: AnalyticsSource, *, as_of: date) -> RelationshipEvents:
    per_customer = to_pandas(source, relationship_inputs(source, as_of=as_of))
    spend = to_pandas(source, category_spend(
        source.transactions, source.lines, source.products, as_of=as_of))
    return RelationshipEvents(per_customer=per_customer[list(EVENT_INPUT_COLUMNS)],
                              category_spend=spend[list(SPEND_COLUMNS)])
