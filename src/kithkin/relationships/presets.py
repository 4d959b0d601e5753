"""Stage-model presets for the evidence a firm actually has.

The built-in ``journey`` needs stored preferences, a recent interaction or two product
categories before a repeat buyer becomes a friend, and trust signals (NPS, CSAT, ideas,
referrals) before a partner. A firm that only has a transaction log can never show
those, so every customer would stop at acquaintance whatever they bought. When the data
is transaction-only (:attr:`DataSignals.transaction_only`: orders, but neither
interactions nor stored preferences), the refresh swaps the built-in ``journey`` for the
preset of the same name in ``stage_models/transaction_only/`` (rules on the purchase
history and RFM only) and says so: in ``kithkin refresh``'s output, in the run record
(``relationship_run.evidence``) and on the dashboard. A user model named ``journey``
(installed in the workspace) is the user's choice and is never swapped.

The other built-ins stay as they are: ``ladder``'s client and ``pyramid``'s
transactional stage already rest on orders alone; their higher stages need evidence the
data does not hold, which the run record lists as missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kithkin.relationships.definitions import BUILTIN_DIR, StageModel, load_model_file
from kithkin.relationships.signals import DataSignals

TRANSACTION_ONLY_DIR = BUILTIN_DIR / "transaction_only"
TRANSACTION_ONLY = "transaction_only"


@dataclass(frozen=True)
class PresetChoice:
    """The models a refresh assigns with, and which of them are presets (model -> preset)."""

    models: list[StageModel]
    presets: dict[str, str]


def _is_builtin(model: StageModel) -> bool:
    return Path(model.path).resolve().parent == BUILTIN_DIR.resolve()


def choose(models: list[StageModel], signals: DataSignals) -> PresetChoice:
    """Replace each built-in model that has a preset for this data by that preset."""
    if not signals.transaction_only:
        return PresetChoice(models=list(models), presets={})
    chosen: list[StageModel] = []
    presets: dict[str, str] = {}
    for model in models:
        preset = TRANSACTION_ONLY_DIR / f"{model.name}.toml"
        if _is_builtin(model) and preset.is_file():
            chosen.append(load_model_file(preset))
            presets[model.name] = TRANSACTION_ONLY
        else:
            chosen.append(model)
    return PresetChoice(models=chosen, presets=presets)


def load_preset(model: str, preset: str) -> StageModel | None:
    """The preset a run used for ``model`` (as recorded in ``relationship_run.evidence``),
    so pages show its title, goals and rules; None if it no longer exists."""
    path = BUILTIN_DIR / preset / f"{model}.toml"
    return load_model_file(path) if preset == TRANSACTION_ONLY and path.is_file() else None
