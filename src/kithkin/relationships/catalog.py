"""The metric names a rule may use, with their types.

The first block is the per-customer metrics contract of docs/architecture.md; the second
block holds the relationship inputs this engine derives from the store itself (customer
attributes, interaction tags, order lines), because bonds and the "specific knowledge"
the journey model asks for are not part of the analytics contract. Rules are validated
against this catalogue when a stage model loads, so a typo fails at load, not at refresh.
"""

from __future__ import annotations

from typing import Literal

MetricType = Literal["number", "string", "bool", "date"]

CONTRACT_METRICS: dict[str, MetricType] = {
    **dict.fromkeys(
        (
            "orders", "frequency", "recency", "T", "monetary_value", "revenue", "margin",
            "avg_order_value", "days_since_last_purchase", "tenure_days",
            "categories_bought", "products_bought", "discount_share",
            "rfm_r", "rfm_f", "rfm_m",
            "p_alive", "expected_purchases_90d", "expected_spend", "clv",
            "interactions_90d", "inbound_90d", "outbound_90d", "two_way_ratio",
            "complaints", "complaints_open", "complaints_resolved", "mean_resolution_hours",
            "last_nps", "last_csat", "satisfaction_trend", "referrals", "reviews", "ideas",
            "service_requests", "active_memberships",
        ),
        "number",
    ),
    "first_purchase_at": "date",
    "last_purchase_at": "date",
    "rfm_score": "string",
    "rfm_segment": "string",
    "membership_tier": "string",
    "has_loyalty": "bool",
    "has_subscription": "bool",
    "has_contract": "bool",
}

# Derived by kithkin.relationships.inputs from customer attributes, interactions and lines.
RELATIONSHIP_INPUTS: dict[str, MetricType] = {
    "has_preferences": "bool",  # attributes["preferences"] is non-empty
    "has_account_manager": "bool",  # account_manager_id or attributes["account_manager"]
    "has_price_lock": "bool",  # attributes["price_lock"] is truthy
    "integrations": "number",  # len(attributes["integrations"])
    "shared_processes": "number",  # len(attributes["shared_processes"])
    "community_interactions": "number",  # interactions tagged community or event
    "bundles_bought": "number",  # order lines that are part of a bundle
    "customized_orders": "number",  # attributes["customized_orders"] (made-to-order count)
}

METRIC_TYPES: dict[str, MetricType] = {**CONTRACT_METRICS, **RELATIONSHIP_INPUTS}
