"""Relationship-engine configuration: the workspace file ``relationships.toml``.

kithkin's settings fix the workspace folder (``home``, passed to every function here);
the engine's own choices live in ``<home>/relationships.toml`` so they can be edited, kept
under version control and read by every process the same way. Every key is optional::

    active_models = ["journey", "ladder", "pyramid"]

    [levels]             # Kotler's matrix: size and margin classes of a segment
    few_below = 100      # fewer customers than this: "few"
    many_from = 10000    # at least this many: "many"
    low_margin_below = 0.10
    high_margin_from = 0.30

    [tiers]
    most_valuable_share = 0.20
    most_growable_share = 0.20
    service_cost_per_interaction = 5.0

    [needs]
    k = 0                # 0: choose k by silhouette over k_min..k_max
    k_min = 2
    k_max = 8
    seed = 7

    [segments]           # user-defined segments, each a rule
    big_spenders = "revenue >= 1000 and orders >= 5"

User stage models live in ``<home>/stage_models/NAME.toml`` (installed by
``kithkin stages install FILE``); a user model named like a built-in replaces it.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError

from kithkin.config import DEFAULT_MARGIN
from kithkin.errors import ConfigurationError, NotFoundError
from kithkin.relationships.definitions import (
    StageModel,
    builtin_models,
    load_model_file,
)
from kithkin.relationships.rules import Rule, RuleError, compile_rule


class LevelThresholds(BaseModel):
    few_below: int = Field(default=100, ge=1)
    many_from: int = Field(default=10_000, ge=2)
    low_margin_below: float = 0.10
    high_margin_from: float = 0.30


class TierSettings(BaseModel):
    most_valuable_share: float = Field(default=0.20, gt=0, lt=1)
    most_growable_share: float = Field(default=0.20, gt=0, lt=1)
    service_cost_per_interaction: float = Field(default=5.0, ge=0)


class NeedsSettings(BaseModel):
    k: int = Field(default=0, ge=0)
    k_min: int = Field(default=2, ge=2)
    k_max: int = Field(default=8, ge=2)
    seed: int = 7
    silhouette_sample: int = Field(default=2_000, ge=50)


class RelationshipConfig(BaseModel):
    active_models: list[str] = Field(default_factory=lambda: ["journey", "ladder", "pyramid"])
    levels: LevelThresholds = Field(default_factory=LevelThresholds)
    tiers: TierSettings = Field(default_factory=TierSettings)
    needs: NeedsSettings = Field(default_factory=NeedsSettings)
    segments: dict[str, str] = Field(default_factory=dict)
    # Not read from relationships.toml: the one margin assumption is kithkin's setting
    # ``default_margin`` (KITHKIN_DEFAULT_MARGIN), shared with CLV; load_config copies it.
    default_margin: float = Field(default=DEFAULT_MARGIN, ge=0, le=1, exclude=True)

    def segment_rules(self) -> dict[str, Rule]:
        rules: dict[str, Rule] = {}
        for name, text in self.segments.items():
            try:
                rules[name] = compile_rule(text)
            except RuleError as exc:
                raise ConfigurationError(
                    f"relationships.toml: [segments] {name}: {exc}") from exc
        return rules


def config_path(home: Path) -> Path:
    return home / "relationships.toml"


def user_models_dir(home: Path) -> Path:
    return home / "stage_models"


def load_config(*, home: Path, default_margin: float = DEFAULT_MARGIN) -> RelationshipConfig:
    """The workspace's relationship settings; ``default_margin`` is the one margin
    assumption (the ``default_margin`` setting), never a value of this file."""
    path = config_path(home)
    margin = default_margin
    if not path.exists():
        return RelationshipConfig(default_margin=margin)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
        data.pop("default_margin", None)  # one assumption: the setting, not this file
        return RelationshipConfig.model_validate({**data, "default_margin": margin})
    except (tomllib.TOMLDecodeError, PydanticValidationError) as exc:
        raise ConfigurationError(f"{path}: {exc}") from exc


def available_models(*, home: Path) -> dict[str, StageModel]:
    """Built-in models, replaced or extended by valid user models in the workspace."""
    models = builtin_models()
    folder = user_models_dir(home)
    if folder.is_dir():
        for path in sorted(folder.glob("*.toml")):
            model = load_model_file(path)
            models[model.name] = model
    return models


def active_models(*, home: Path, config: RelationshipConfig | None = None) -> list[StageModel]:
    config = config or load_config(home=home)
    models = available_models(home=home)
    missing = [name for name in config.active_models if name not in models]
    if missing:
        raise ConfigurationError(
            f"{config_path(home)}: active_models names unknown model(s) {missing}; "
            f"available: {sorted(models)}")
    return [models[name] for name in config.active_models]


def get_model(name: str, *, home: Path) -> StageModel:
    models = available_models(home=home)
    if name not in models:
        raise NotFoundError(f"no stage model {name!r}; available: {sorted(models)}")
    return models[name]


def install_model(path: Path, *, home: Path) -> StageModel:
    """Validate a model file and, only if it is valid, copy it into the workspace."""
    model = load_model_file(path)
    folder = user_models_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, folder / f"{model.name}.toml")
    return model
