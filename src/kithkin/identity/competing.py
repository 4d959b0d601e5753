"""Candidates that compete for one record: a record is at most one other person.

Each pair is scored on its own, as if the record had no other candidates. A record with
little to tell it apart (a given name missing, a common name in a large town, no
address) then scores high against every namesake of its town, and merging follows the
chain: two people become one through the record that met both. In a register of a
million records that made most of the false matches at the review threshold and broke
the clusters of both people.

When record R has candidates A and B that are themselves different people, "R is A" and
"R is B" exclude each other, and with the pairs' odds ``o_A`` and ``o_B`` (prior times
evidence, each as if alone) the probability that R is A is ``o_A / (1 + o_A + o_B)``
(Fellegi-Sunter's one-to-one assignment, in its soft form). Whether A and B are one
person is itself uncertain: B does not compete where A and B are more likely one person
than two (the three are a cluster), competes in proportion to ``1 - P(A is B)`` below
that, and fully where A and B were never compared or scored below the scoring floor.
Both sides of a pair are weighed and the lower probability kept.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd


def competing_adjusted(pairs: pd.DataFrame) -> pd.DataFrame:
    """``pairs`` (``customer_id_l``, ``customer_id_r``, ``match_weight``,
    ``match_probability``, every pair scored, not only those above a threshold) with each
    pair's weight and probability lowered by its records' other candidates."""
    if pairs.empty:
        return pairs
    left = pairs["customer_id_l"].to_numpy(np.int64)
    right = pairs["customer_id_r"].to_numpy(np.int64)
    weight = pairs["match_weight"].to_numpy(float)
    odds = np.exp2(np.clip(weight, -200.0, 200.0))
    probability = pairs["match_probability"].to_numpy(float)
    # Each pair from both of its records.
    edges = pd.DataFrame({"record": np.concatenate([left, right]),
                          "other": np.concatenate([right, left]),
                          "odds": np.concatenate([odds, odds]),
                          "probability": np.concatenate([probability, probability])})
    total = edges.groupby("record")["odds"].sum()
    # For record R and candidate A: the odds of R's other candidates B that are A (a
    # triangle R-B-A), weighted by P(A is B); they do not compete with A.
    via = edges[["record", "other", "odds"]].rename(
        columns={"record": "r", "other": "b", "odds": "odds_rb"})
    back = edges[["record", "other", "probability"]].rename(
        columns={"record": "b", "other": "a", "probability": "p_ab"})
    triangles = via.merge(back, on="b")
    triangles = triangles[triangles["a"] != triangles["r"]]
    # A and B more likely one person than two: B does not compete at all (a soft share
    # of a near-certain candidate's odds would still swamp A's).
    triangles["p_ab"] = triangles["p_ab"].where(triangles["p_ab"] < 0.5, 1.0)
    shared = (triangles["odds_rb"] * triangles["p_ab"]).groupby(
        [triangles["r"], triangles["a"]]).sum()

    def others(record: npt.NDArray[np.int64], candidate: npt.NDArray[np.int64]
               ) -> npt.NDArray[np.float64]:
        index = pd.MultiIndex.from_arrays([record, candidate])
        same: npt.NDArray[np.float64] = shared.reindex(index, fill_value=0.0).to_numpy(float)
        rest: npt.NDArray[np.float64] = total.reindex(record).to_numpy(float) - odds - same
        return np.clip(rest, 0.0, None)

    competing = np.maximum(others(left, right), others(right, left))
    lowered = weight - np.log2(1.0 + competing)
    out = pairs.copy()
    out["match_weight"] = np.minimum(weight, lowered)
    out["match_probability"] = np.minimum(
        probability, 1.0 / (1.0 + np.exp2(-np.clip(lowered, -200.0, 200.0))))
    return out
