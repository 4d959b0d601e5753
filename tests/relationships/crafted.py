"""Crafted per-customer metrics with hand-computed expectations, shared by the tests."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kithkin.config import get_settings
from kithkin.customers.models import Customer
from kithkin.relationships.definitions import StageModel
from kithkin.relationships.workspace import get_model

# A customer without any transaction: no revenue, margin or CLV (null, as in the
# metrics block; 0 revenue means zero-amount orders only).
BASE: dict[str, Any] = {
    "orders": 0, "days_since_last_purchase": None, "tenure_days": 0, "complaints_open": 0,
    "complaints": 0, "complaints_resolved": 0, "interactions_90d": 0, "inbound_90d": 0,
    "outbound_90d": 0, "two_way_ratio": None, "frequency": 0, "p_alive": None,
    "revenue": None, "margin": None, "clv": None, "categories_bought": 0, "last_nps": None,
    "last_csat": None, "satisfaction_trend": None, "has_contract": False,
    "active_memberships": 0, "referrals": 0, "reviews": 0, "ideas": 0,
    "service_requests": 0, "rfm_segment": None,
}

# 1 stranger, 2 acquaintance, 3 friend, 4 partner, 5 friend (who drifts away later)
CUSTOMERS: dict[int, dict[str, Any]] = {
    1: {},
    2: {"orders": 1, "days_since_last_purchase": 30, "tenure_days": 30, "revenue": 40.0,
        "margin": 8.0, "clv": 20.0, "categories_bought": 1, "rfm_segment": "new"},
    3: {"orders": 3, "days_since_last_purchase": 20, "tenure_days": 400, "frequency": 2,
        "interactions_90d": 2, "inbound_90d": 1, "outbound_90d": 1, "two_way_ratio": 1.0,
        "last_nps": 7, "revenue": 300.0, "margin": 60.0, "clv": 150.0, "p_alive": 0.9,
        "categories_bought": 2, "rfm_segment": "loyal"},
    4: {"orders": 10, "days_since_last_purchase": 10, "inbound_90d": 2, "outbound_90d": 1,
        "has_preferences": True, "active_memberships": 1, "two_way_ratio": 0.5,
        "interactions_90d": 3, "frequency": 9, "tenure_days": 900, "p_alive": 0.81,
        "revenue": 1000.0, "margin": 150.0, "clv": 900.0, "categories_bought": 3,
        "ideas": 1, "last_nps": 10, "complaints": 2, "complaints_resolved": 1,
        "satisfaction_trend": 0.2, "has_contract": True, "rfm_segment": "champions"},
    5: {"orders": 4, "days_since_last_purchase": 60, "tenure_days": 500, "frequency": 3,
        "categories_bought": 2, "revenue": 200.0, "margin": 30.0, "clv": 80.0,
        "p_alive": 0.7, "rfm_segment": "loyal"},
}

# The drift of customer 5 at the second refresh: stops buying and complains.
DRIFT: dict[str, Any] = {"days_since_last_purchase": 400, "complaints": 1,
                         "complaints_open": 1, "p_alive": 0.2}


def metrics(overrides: dict[int, dict[str, Any]] | None = None) -> pd.DataFrame:
    rows = []
    for customer_id, values in CUSTOMERS.items():
        row = {"customer_id": customer_id, **BASE, **values,
               **(overrides or {}).get(customer_id, {})}
        rows.append(row)
    return pd.DataFrame(rows)


def add_customers(engine: Engine, ids: list[int]) -> None:
    with Session(engine) as session:
        session.add_all(Customer(id=i, first_name=f"C{i}") for i in ids)
        session.commit()


def stage_model(name: str) -> StageModel:
    """A stage model of the test's workspace (built-ins unless a test installed one)."""
    return get_model(name, home=get_settings().home)
