"""An exit interview is not engagement: it must not lift a defector up the pyramid.

The bug: an exit interview logged inbound ("it was the price") counted in
``inbound_90d`` and ``interactions_90d``, so the pyramid's "responsive" rule
(``inbound_90d >= 1``) and the social bond's dialogue signal fired for a customer who
had just left.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import ibis
import pandas as pd

from kithkin.analytics.features import interaction_features


def _touches(kinds: list[tuple[str, str]]) -> pd.DataFrame:
    n = len(kinds)
    return pd.DataFrame({
        "id": list(range(1, n + 1)), "customer_id": [1] * n,
        "occurred_at": [datetime(2025, 6, 1, tzinfo=UTC)] * n,
        "kind": [k for k, _ in kinds], "direction": [d for _, d in kinds],
        "status": ["closed"] * n, "resolved_at": pd.Series([None] * n,
                                                           dtype="datetime64[ns, UTC]"),
        "score": pd.Series([None] * n, dtype="float64"), "score_scale": [None] * n,
    })


def _features(kinds: list[tuple[str, str]]) -> dict[str, object]:
    frame = ibis.memtable(_touches(kinds))
    result = ibis.duckdb.connect().to_pyarrow(
        interaction_features(frame, as_of=date(2025, 6, 30))).to_pylist()
    return result[0]


def test_exit_interview_counts_as_no_engagement() -> None:
    row = _features([("exit_interview", "inbound"), ("exit_interview", "outbound")])
    assert (row["interactions_90d"], row["inbound_90d"], row["outbound_90d"]) == (0, 0, 0)
    assert row["two_way_ratio"] is None


def test_other_touches_still_count_beside_it() -> None:
    row = _features([("exit_interview", "inbound"), ("call", "outbound"),
                     ("inquiry", "inbound")])
    assert (row["interactions_90d"], row["inbound_90d"], row["outbound_90d"]) == (2, 1, 1)
    assert row["two_way_ratio"] == 1.0
