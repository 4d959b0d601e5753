"""Assigning every customer a stage in a stage model, with the evidence for it.

A customer gets the highest stage whose entry rule matches (see
:mod:`kithkin.relationships.definitions`). Rules are evaluated column-wise, so the cost is
a handful of NumPy comparisons per stage, whatever the number of customers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from kithkin.relationships.definitions import StageModel
from kithkin.relationships.evidence import grouped_records_json
from kithkin.relationships.rules import Evaluator


def assign_ranks(model: StageModel, evaluator: Evaluator) -> npt.NDArray[np.int16]:
    """The rank (0 = lowest stage) of the highest matching stage for every customer."""
    ranks = np.zeros(evaluator.size, dtype=np.int16)
    for stage in model.stages[1:]:
        ranks[evaluator.evaluate(stage.rule)] = stage.rank
    return ranks


def stage_evidence(model: StageModel, frame: pd.DataFrame,
                   ranks: npt.NDArray[np.int16]) -> npt.NDArray[np.object_]:
    """Per customer: the rule that matched and the values of the metrics it read (JSON)."""
    return grouped_records_json(frame, ranks, evidence_specs(model))


def evidence_specs(model: StageModel) -> list[tuple[dict[str, object], tuple[str, ...]]]:
    return [({"stage": stage.name, "rule": " ".join(stage.rule.text.split())},
             stage.rule.metrics) for stage in model.stages]


def left_stage_evidence(model: StageModel, frame: pd.DataFrame,
                        rows: npt.NDArray[np.intp],
                        previous_ranks: npt.NDArray[np.int_]) -> npt.NDArray[np.object_]:
    """For customers who left a stage: its rule and the values it now reads (why the
    customer no longer qualifies), one JSON object per row of ``rows``."""
    return grouped_records_json(frame.iloc[rows], previous_ranks, evidence_specs(model))


def assign(model: StageModel, frame: pd.DataFrame, evaluator: Evaluator | None = None,
           *, with_evidence: bool = True) -> pd.DataFrame:
    """Columns customer_id, stage, rank (and evidence): one row per customer of ``frame``."""
    evaluator = evaluator or Evaluator(frame)
    ranks = assign_ranks(model, evaluator)
    names = np.array(model.stage_names, dtype=object)
    result = pd.DataFrame({
        "customer_id": frame["customer_id"].to_numpy(),
        "stage": names[ranks],
        "rank": ranks,
    })
    if with_evidence:
        result["evidence"] = stage_evidence(model, frame, ranks)
    return result
