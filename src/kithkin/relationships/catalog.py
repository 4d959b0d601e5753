"""The metric names a rule may use, with their types.

The first block is the per-customer metrics contract of docs/architecture.md, read off
the stored model (:mod:`kithkin.analytics.catalog`); the second block holds the
relationship inputs this engine derives from the store itself (customer attributes,
interaction tags, order lines), because bonds and the "specific knowledge" the journey
model asks for are not part of the analytics contract. Rules are validated
against this catalogue when a stage model loads, so a typo fails at load, not at refresh.
"""

from __future__ import annotations

from kithkin.analytics.catalog import CONTRACT_METRICS, MetricType

__all__ = ["CONTRACT_METRICS", "METRIC_TYPES", "RELATIONSHIP_INPUTS", "MetricType"]

# Derived by kithkin.relationships.inputs from customer attributes, interactions and lines.
RELATIONSHIP_INPUTS: dict[str, MetricType] = {
    "has_preferences": "bool",  # preferences remembered (kithkin.preferences)
    "has_account_manager": "bool",  # account_manager_id or attributes["account_manager"]
    "has_price_lock": "bool",  # attributes["price_lock"] is truthy
    "integrations": "number",  # len(attributes["integrations"])
    "shared_processes": "number",  # len(attributes["shared_processes"])
    "community_interactions": "number",  # interactions tagged community or event
    "bundles_bought": "number",  # order lines that are part of a bundle
    "customized_orders": "number",  # attributes["customized_orders"] (made-to-order count)
}

METRIC_TYPES: dict[str, MetricType] = {**CONTRACT_METRICS, **RELATIONSHIP_INPUTS}
