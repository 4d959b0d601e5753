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
class boundaries are configurable (``[levels]`` in relationships.toml). Where a customer's
margin is unknown (no cost in the data) it is assumed at ``default_margin`` (the one
documented assumption, shared with CLV); each segment says which share of its revenue has
a known margin (``margin_known_share``, 0 when the matrix rests on the assumption alone),
so the recommendation never passes an assumed margin off as a measured one.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pandas as pd

from kithkin.config import DEFAULT_MARGIN
from kithkin.relationships.columns import number
from kithkin.relationships.tiers import known_or_assumed_margin
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


def margin_text(rate: float, known_share: float | None) -> str:
    """A segment's margin rate as shown to people: a measured rate as a percentage, an
    assumed one as "unknown (assumed X %)", a partly measured one with its share."""
    if known_share is None or known_share >= 0.9999:
        return f"{rate:.1%}"
    if known_share <= 0:
        return f"unknown (assumed {rate:.0%})"
    return f"{rate:.1%} ({known_share:.0%} of revenue costed, the rest assumed)"


def segment_levels(frame: pd.DataFrame, segment_columns: list[str],
                   thresholds: LevelThresholds, *,
                   default_margin: float = DEFAULT_MARGIN) -> pd.DataFrame:
    """One row per (kind, segment): customers, revenue, margin (known, else assumed at
    ``default_margin``), the share of revenue whose margin is known, classes and the
    recommended level.

    ``frame`` has customer_id, revenue, margin and one column per segment kind (a value
    per customer, null when the customer is not in any segment of that kind).
    """
    revenue_of = number(frame, "revenue")
    margin_of, known = known_or_assumed_margin(frame, default_margin)
    known_revenue_of = np.where(known, revenue_of, 0.0)
    rows: list[dict[str, object]] = []
    for kind in segment_columns:
        codes, names = pd.factorize(frame[kind], use_na_sentinel=True)
        member = codes >= 0
        counts = np.bincount(codes[member], minlength=len(names))
        revenues = np.bincount(codes[member], weights=revenue_of[member], minlength=len(names))
        margins = np.bincount(codes[member], weights=margin_of[member], minlength=len(names))
        known_revenues = np.bincount(codes[member], weights=known_revenue_of[member],
                                     minlength=len(names))
        for segment, customers, revenue, margin, known_revenue in zip(
                names, counts.tolist(), revenues.tolist(), margins.tolist(),
                known_revenues.tolist(), strict=True):
            # no revenue, nothing measured: the rate is the assumption (known share 0)
            rate = margin / revenue if revenue > 0 else default_margin
            known_share = known_revenue / revenue if revenue > 0 else 0.0
            rows.append({
                "kind": kind, "segment": str(segment), "customers": customers,
                "revenue": round(revenue, 2), "margin": round(margin, 2),
                "margin_rate": round(rate, 4),
                "margin_known_share": round(min(max(known_share, 0.0), 1.0), 4),
                "size_class": size_class(customers, thresholds),
                "margin_class": margin_class(rate, thresholds),
                "recommended_level": recommend(customers, rate, thresholds).value,
            })
    columns = ["kind", "segment", "customers", "revenue", "margin", "margin_rate",
               "margin_known_share", "size_class", "margin_class", "recommended_level"]
    return pd.DataFrame(rows, columns=columns).replace({np.nan: None})
