"""The store-free core: from a per-customer metrics frame to stages, health, bonds,
tiers, needs segments and segment levels. Everything is column-wise (pandas/NumPy)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeAlias

import pandas as pd
import pyarrow as pa

from kithkin.errors import ValidationError
from kithkin.relationships import bonds, health, levels, presets, tiers
from kithkin.relationships.assignment import assign
from kithkin.relationships.definitions import StageModel
from kithkin.relationships.evidence import values_json
from kithkin.relationships.rules import Evaluator
from kithkin.relationships.signals import ALL_SIGNALS, DataSignals, detect
from kithkin.relationships.workspace import RelationshipConfig

MetricsInput: TypeAlias = pd.DataFrame | pa.Table
PROFILE_INPUTS = tuple(dict.fromkeys((*health.HEALTH_INPUTS, *bonds.BOND_INPUTS)))


@dataclass
class EngineResult:
    stages: dict[str, pd.DataFrame]
    profile: pd.DataFrame
    segment_levels: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    # the evidence the data holds, and the models assigned with (presets swapped in)
    signals: DataSignals = ALL_SIGNALS
    models: list[StageModel] = field(default_factory=list)
    presets: dict[str, str] = field(default_factory=dict)
    # the ratio unknown margins were assumed at, and its source ("data", "default_margin")
    assumed_margin: float = 0.0
    assumed_from: str = "default_margin"


def rule_inputs(models: list[StageModel]) -> tuple[str, ...]:
    """Metrics the models' rules read that are not profile inputs, in first-use order."""
    return tuple(dict.fromkeys(name for model in models for stage in model.stages
                               for name in stage.rule.metrics if name not in PROFILE_INPUTS))


def as_frame(metrics: MetricsInput) -> pd.DataFrame:
    """A pandas frame with a unique ``customer_id`` column (pyarrow tables are converted)."""
    frame = metrics.to_pandas() if isinstance(metrics, pa.Table) else metrics
    if "customer_id" not in frame.columns:
        raise ValidationError("the metrics table has no customer_id column")
    if frame["customer_id"].duplicated().any():
        raise ValidationError("the metrics table has more than one row for a customer")
    return frame.reset_index(drop=True)


def compute(metrics: MetricsInput, *, models: list[StageModel], config: RelationshipConfig,
            category_spend: pd.DataFrame | None = None,
            with_evidence: bool = True, stage_evidence: bool | None = None,
            adapt_to_evidence: bool = True,
            on_stages: Callable[[list[StageModel], dict[str, pd.DataFrame]], None] | None
            = None) -> EngineResult:
    """Run every step of the engine over ``metrics``; ``category_spend`` has columns
    (customer_id, category, amount) and enables needs segments and distinctiveness.

    The kinds of evidence the data holds are detected first (:mod:`signals`); health
    leaves out what the data cannot show and, with ``adapt_to_evidence``, built-in models
    with a preset for that evidence are swapped for it (:mod:`presets`); the result says
    which (``signals``, ``models``, ``presets``).

    ``stage_evidence`` (default: ``with_evidence``) adds each customer's stage evidence;
    the stored refresh leaves it out and builds it only for the customers who move. The
    profile evidence then also holds the values of every metric the stage rules read, so
    an explanation shows the current values without a stage row per customer to rewrite.

    ``on_stages(models, stages)`` is called as soon as the stages are assigned, before
    the rest is computed (the stored refresh starts writing them meanwhile).
    """
    if stage_evidence is None:
        stage_evidence = with_evidence
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = round(now - clock, 4)
        clock = now

    frame = as_frame(metrics)
    needs = pd.Series([None] * len(frame), dtype=object)
    if category_spend is not None and not category_spend.empty:
        shares = tiers.category_shares(category_spend)
        shares = shares[shares.index.isin(frame["customer_id"])]
        if "profile_distinctiveness" not in frame.columns:
            frame = frame.merge(tiers.distinctiveness(shares).rename_axis("customer_id")
                                .reset_index(), on="customer_id", how="left")
        segments = tiers.needs_segments(shares, config.needs)
        needs = frame["customer_id"].map(segments).astype(object)
    lap("needs_segments")

    found = detect(frame)
    choice = (presets.choose(models, found) if adapt_to_evidence
              else presets.PresetChoice(models=list(models), presets={}))
    models = choice.models
    evaluator = Evaluator(frame)
    stages = {model.name: assign(model, frame, evaluator, with_evidence=stage_evidence)
              for model in models}
    lap("stages")
    if on_stages is not None:
        on_stages(models, stages)
    scores = health.scorecard(frame, found)
    lap("health")
    bond_scores = bonds.inventory(frame)
    lap("bonds")
    assumed, assumed_from = tiers.assumed_margin_rate(frame, config.default_margin)
    value = tiers.value_tiers(frame, config.tiers, needs if needs.notna().any() else None,
                              default_margin=assumed)
    value["needs_segment"] = needs.to_numpy()
    lap("value_tiers")

    profile = scores.merge(bond_scores, on="customer_id").merge(value, on="customer_id")
    if with_evidence:
        # the values of every health and bond input, in PROFILE_INPUTS order, then those
        # of the other metrics the stage rules read (an object, they depend on the models)
        profile["evidence"] = values_json(frame, PROFILE_INPUTS, rule_inputs(models))
        lap("profile_evidence")
    segmented = pd.DataFrame({"customer_id": frame["customer_id"],
                              "revenue": frame.get("revenue"), "margin": frame.get("margin")})
    kinds: list[str] = []
    for name, assigned in stages.items():
        segmented[f"stage:{name}"] = assigned["stage"].to_numpy()
        kinds.append(f"stage:{name}")
    if "rfm_segment" in frame.columns:
        segmented["rfm_segment"] = frame["rfm_segment"].to_numpy()
        kinds.append("rfm_segment")
    segmented["value_tier"] = value["value_tier"].to_numpy()
    kinds.append("value_tier")
    if needs.notna().any():
        segmented["needs_segment"] = needs.to_numpy()
        kinds.append("needs_segment")
    for rule_name, rule in config.segment_rules().items():
        segmented[f"rule:{rule_name}"] = pd.Series(evaluator.evaluate(rule)).map(
            {True: rule_name, False: None}).to_numpy()
        kinds.append(f"rule:{rule_name}")
    recommended = levels.segment_levels(segmented, kinds, config.levels,
                                        default_margin=assumed)
    lap("levels")
    return EngineResult(stages=stages, profile=profile, segment_levels=recommended,
                        timings=timings, signals=found, models=models,
                        presets=choice.presets, assumed_margin=assumed,
                        assumed_from=assumed_from)
