"""RFM scores (recency, frequency, monetary quantiles) and named segments.

Scores are quantile bins 1..``bins`` (5 = best): a customer's score is
``1 + floor(bins * rank / n)`` where ``rank`` is the 0-based *minimum* rank of the value
(recency ranked from the longest absence, frequency and money from the smallest), so tied
values always share a score and the result is the same on every engine.

Segments follow the widely used R x F grid (Hughes' RFM segments as popularised by
Putler/Kaggle "RFM segmentation"): with R and F rescaled to 1-5,

R\\F  1               2                    3                    4                5
---  --------------  -------------------  -------------------  ---------------  ----------------
5    new customers   potential loyalists  potential loyalists  champions        champions
4    promising       potential loyalists  potential loyalists  loyal customers  loyal customers
3    about to sleep  about to sleep       need attention       loyal customers  loyal customers
2    hibernating     hibernating          at risk              at risk          cannot lose them
1    lost            hibernating          at risk              at risk          cannot lose them
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
from ibis import _

SEGMENT_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("new customers", "potential loyalists", "potential loyalists", "champions",
        "champions"),
    4: ("promising", "potential loyalists", "potential loyalists", "loyal customers",
        "loyal customers"),
    3: ("about to sleep", "about to sleep", "need attention", "loyal customers",
        "loyal customers"),
    2: ("hibernating", "hibernating", "at risk", "at risk", "cannot lose them"),
    1: ("lost", "hibernating", "at risk", "at risk", "cannot lose them"),
}
SEGMENTS = tuple(dict.fromkeys(name for row in SEGMENT_GRID.values() for name in row))


def _score(value: ir.NumericValue, *, bins: int, descending: bool) -> ir.IntegerValue:
    order = ibis.desc(value) if descending else value
    rank = ibis.rank().over(order_by=order)
    count = value.count().over()
    return (1 + (rank * bins) // count).cast("int64")


def _inputs(table: ir.Table) -> tuple[ir.NumericValue, ir.NumericValue, ir.NumericValue]:
    """R/F/M raw values from features (preferred) or from a BTYD summary."""
    columns = set(table.columns)
    days_since = (table.days_since_last_purchase if "days_since_last_purchase" in columns
                  else table.T - table.recency)
    frequency = table.orders if "orders" in columns else table.frequency
    money = table.revenue if "revenue" in columns else table.monetary_value
    return days_since, frequency, money


def _segment(r: ir.IntegerValue, f: ir.IntegerValue, bins: int) -> ir.StringValue:
    r5 = 1 + ((r - 1) * 5) // bins
    f5 = 1 + ((f - 1) * 5) // bins
    cases = [
        ((r5 == r_score) & (f5 == f_score), name)
        for r_score, row in SEGMENT_GRID.items()
        for f_score, name in enumerate(row, start=1)
    ]
    return ibis.cases(*cases, else_=ibis.null("string"))


def rfm_scores(summary_or_features: ir.Table, *, bins: int = 5) -> ir.Table:
    """Add ``rfm_r``, ``rfm_f``, ``rfm_m``, ``rfm_score`` and ``rfm_segment``.

    Takes customer features (``days_since_last_purchase``, ``orders``, ``revenue``) or a
    BTYD summary (``T - recency``, ``frequency``, ``monetary_value``). Rows without a
    purchase (null values) should be filtered out first; they would rank as ties.
    """
    if not 2 <= bins <= 9:
        raise ValueError("bins must be between 2 and 9 (one digit per score)")
    days_since, frequency, money = _inputs(summary_or_features)
    scored = summary_or_features.mutate(
        rfm_r=_score(days_since, bins=bins, descending=True),
        rfm_f=_score(frequency, bins=bins, descending=False),
        rfm_m=_score(money, bins=bins, descending=False),
    )
    return scored.mutate(
        rfm_score=_.rfm_r.cast("string").concat(_.rfm_f.cast("string"),
                                                 _.rfm_m.cast("string")),
        rfm_segment=_segment(_.rfm_r, _.rfm_f, bins),
    )
