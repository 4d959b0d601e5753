"""The loyalty programme's rules, read from a TOML file and validated at load time."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kithkin.errors import ConfigurationError

PRICE_LOCK = "price lock"
WORKSPACE_FILE = "loyalty.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Earning(_Strict):
    name: str = "kithkin rewards"
    points_per_currency_unit: float = Field(default=1.0, ge=0)
    points_per_order: int = Field(default=0, ge=0)
    expiry_months: int | None = Field(default=12, ge=1)
    members: Literal["all", "enrolled"] = "all"


class FrequencyBonus(_Strict):
    every_nth_order: int = Field(default=0, ge=0, description="0: no bonus")
    points: int = Field(default=0, ge=0)


class Tier(_Strict):
    name: str = Field(min_length=1)
    threshold: float = Field(ge=0)
    benefits: list[str] = Field(default_factory=list)


class Tiers(_Strict):
    window_days: int = Field(default=365, ge=1)
    levels: list[Tier] = Field(default_factory=lambda: [Tier(name="member", threshold=0)])

    @model_validator(mode="after")
    def _ascending(self) -> Tiers:
        thresholds = [tier.threshold for tier in self.levels]
        if not thresholds or thresholds[0] != 0 or thresholds != sorted(set(thresholds)):
            raise ValueError("tier thresholds must start at 0 and strictly increase")
        return self


class Programme(_Strict):
    programme: Earning = Field(default_factory=Earning)
    frequency_bonus: FrequencyBonus = Field(default_factory=FrequencyBonus)
    tiers: Tiers = Field(default_factory=Tiers)

    def order_points(self, amount: float) -> int:
        """Points an order of ``amount`` earns (nothing for a zero or negative amount)."""
        return int(self.orders_points(np.array([amount], dtype=np.float64))[0])

    def orders_points(self, amounts: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """:meth:`order_points` of many orders at once (the refresh's refunds)."""
        rules = self.programme
        earned = np.floor(amounts * rules.points_per_currency_unit) + rules.points_per_order
        return np.where(amounts > 0, earned, 0).astype(np.int64)

    def tier_for(self, spend: float) -> Tier:
        reached = [tier for tier in self.tiers.levels if spend >= tier.threshold]
        return reached[-1] if reached else self.tiers.levels[0]


def parse(text: str, *, file: str) -> Programme:
    """Validate a programme file; errors name the file and the offending field."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{file}: not valid TOML: {exc}") from exc
    try:
        return Programme.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'file'}: {error['msg']}"
            for error in exc.errors())
        raise ConfigurationError(f"{file}: {problems}") from exc


def load(home: Path) -> Programme:
    """The workspace's ``loyalty.toml`` when there is one, else the shipped default."""
    custom = home / WORKSPACE_FILE
    if custom.is_file():
        return parse(custom.read_text(encoding="utf-8"), file=str(custom))
    shipped = resources.files("kithkin.loyalty").joinpath("default_programme.toml")
    return parse(shipped.read_text(encoding="utf-8"), file="default_programme.toml")
