"""Recommended relationship level per segment, by Kotler's matrix.

Seed 002 describes five levels of relationship (basic/transactional, reactive,
accountable, proactive, partnership) and says the right one depends on the number of
customers and the profit margin. Kotler (*Marketing Management*, "levels of relationship
marketing") arranges this as a 3x3 matrix, used here as written:

============  ===========  ============  ===========
customers     high margin  medium margin low margin
============  ===========  ============  ===========
many          accountable  reactive      basic
medium        proactive    accountable   reactive
few           partnership  proactive     accountable
============  ===========  ============  ===========

The margin of a segment is its total margin over its total revenue; the size and margin
class boundaries are configurable (``[levels]`` in relationships.toml).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pandas as pd

from kithkin.relationships.columns import number
from kithkin.relationships.workspace import LevelThresholds


class Level(StrEnum):
    BASIC = "basic"
    REACTIVE = "reactive"
    ACCOUNTABLE = "accountable"
    PROACTIVE = "proactive"
    PARTNERSHIP = "partnership"


KOTLER_MATRIX: dict[tuple[str, str], Level] = {
    ("many", "high"): Level.ACCOUNTABLE, ("many", "medium"): Level.REACTIVE,
    ("many", "low"): Level.BASIC,
    ("medium", "high"): Level.PROACTIVE, ("medium", "medium"): Level.ACCOUNTABLE,
    ("medium", "low"): Level.REACTIVE,
    ("few", "high"): Level.PARTNERSHIP, ("few", "medium"): Level.PROACTIVE,
    ("few", "low"): Level.ACCOUNTABLE,
}


def size_class(customers: int, thresholds: LevelThresholds) -> str:
    if customers >= thresholds.many_from:
        return "many"
    return "few" if customers < thresholds.few_below else "medium"


def margin_class(margin_rate: float, thresholds: LevelThresholds) -> str:
    if margin_rate >= thresholds.high_margin_from:
        return "high"
    return "low" if margin_rate < thresholds.low_margin_below else "medium"


def recommend(customers: int, margin_rate: float, thresholds: LevelThresholds) -> Level:
    return KOTLER_MATRIX[(size_class(customers, thresholds),
                          margin_class(margin_rate, thresholds))]


def segment_levels(frame: pd.DataFrame, segment_columns: list[str],
                   thresholds: LevelThresholds) -> pd.DataFrame:
    """One row per (kind, segment): customers, revenue, margin, classes, recommended level.

    ``frame`` has customer_id, revenue, margin and one column per segment kind (a value
    per customer, null when the customer is not in any segment of that kind).
    """
    revenue_of = number(frame, "revenue")
    margin_of = number(frame, "margin")
    rows: list[dict[str, object]] = []
    for kind in segment_columns:
        codes, names = pd.factorize(frame[kind], use_na_sentinel=True)
        member = codes >= 0
        counts = np.bincount(codes[member], minlength=len(names))
        revenues = np.bincount(codes[member], weights=revenue_of[member], minlength=len(names))
        margins = np.bincount(codes[member], weights=margin_of[member], minlength=len(names))
        for segment, customers, revenue, margin in zip(names, counts.tolist(),
                                                       revenues.tolist(), margins.tolist(),
                                                       strict=True):
            rate = margin / revenue if revenue > 0 else 0.0
            rows.append({
                "kind": kind, "segment": str(segment), "customers": customers,
                "revenue": round(revenue, 2), "margin": round(margin, 2),
                "margin_rate": round(rate, 4),
                "size_class": size_class(customers, thresholds),
                "margin_class": margin_class(rate, thresholds),
                "recommended_level": recommend(customers, rate, thresholds).value,
            })
    columns = ["kind", "segment", "customers", "revenue", "margin", "margin_rate",
               "size_class", "margin_class", "recommended_level"]
    return pd.DataFrame(rows, columns=columns).replace({np.nan: None})
