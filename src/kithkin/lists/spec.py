"""The filter a list saves: a validated, versioned JSON document.

A list is stored as its filter, not its members, so the spec is the list's contract:
validated when saved (unknown fields, impossible ranges and malformed tags are refused
with the field named) and again when read, and carrying ``version`` so a later change
of meaning can migrate old lists instead of silently reading them differently.

Every field narrows the list (AND); an absent field does not filter. Values that the
data cannot show (no refresh yet, no CLV fitted, P(alive) unknown) never match a filter
on them: unknown is not "below 0.5" and not "CLV 0".
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kithkin.customers.models import Channel
from kithkin.errors import ValidationError
from kithkin.relationships.levels import Level
from kithkin.tags import service as tag_service

SPEC_VERSION = 1
# Segment kinds stored per customer; a level filter may also name "stage:<model>" kinds.
SEGMENT_KINDS = ("rfm_segment", "needs_segment")
LEVEL_KINDS = ("rfm_segment", "needs_segment", "value_tier")


class ListSpec(BaseModel):
    """Version 1 of a list's filter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = SPEC_VERSION
    stage: str | None = Field(None, description="Current stage (of stage_model, else of "
                                                "any model).")
    stage_model: str | None = None
    level: Level | None = Field(None, description=(
        "Relationship level in force for the customer's segment of level_kind "
        "(override, else recommendation)."))
    level_kind: str | None = Field(None, description=(
        "Segment kind the level is read from: stage:<model>, rfm_segment, needs_segment "
        "or value_tier (default stage:<stage_model or the first active model>)."))
    segment_kind: Literal["rfm_segment", "needs_segment"] | None = None
    segment: str | None = Field(None, description="RFM or needs segment (segment_kind).")
    moved_down_since: date | None = Field(None, description=(
        "Moved down a stage (of moved_down_model, else of any model) on or after."))
    moved_down_model: str | None = None
    value_tier: str | None = None
    at_risk: bool | None = Field(None, description=(
        "true: at risk; false: not at risk; unknown risk matches neither."))
    clv_min: float | None = None
    clv_max: float | None = None
    account_manager_id: int | None = Field(None, ge=1)
    consent_channel: Channel | None = Field(None, description=(
        "Only customers whose current consent on this channel is granted."))
    tags: list[str] = Field(default_factory=list, description="Has every one of these.")
    exclude_tags: list[str] = Field(default_factory=list,
                                    description="Has none of these.")
    country: str | None = Field(None, min_length=2, max_length=2)

    @field_validator("tags", "exclude_tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        try:
            return sorted({tag_service.normalize(t) for t in value})
        except ValidationError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("stage", "stage_model", "value_tier", "segment", "moved_down_model",
                     "level_kind", "country")
    @classmethod
    def _blank_is_absent(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @model_validator(mode="after")
    def _consistent(self) -> ListSpec:
        if (self.clv_min is not None and self.clv_max is not None
                and self.clv_min > self.clv_max):
            raise ValueError(f"clv_min {self.clv_min} is above clv_max {self.clv_max}")
        if (self.segment is None) != (self.segment_kind is None):
            raise ValueError("segment and segment_kind go together: e.g. segment_kind "
                             "rfm_segment, segment champions")
        if self.level_kind is not None and not (
                self.level_kind in LEVEL_KINDS or self.level_kind.startswith("stage:")):
            raise ValueError(f"level_kind {self.level_kind!r}: one of stage:<model>, "
                             f"{', '.join(LEVEL_KINDS)}")
        if set(self.tags) & set(self.exclude_tags):
            raise ValueError("a tag cannot be both required and excluded: "
                             f"{sorted(set(self.tags) & set(self.exclude_tags))}")
        return self

    def describe(self) -> list[str]:
        """The filters in words, for pages and the CLI (empty: every customer)."""
        parts = []
        for name, value in self.model_dump(exclude={"version"}, exclude_defaults=True).items():
            shown = ", ".join(value) if isinstance(value, list) else value
            parts.append(f"{name.replace('_', ' ')}: {shown}")
        return parts


def load(document: dict[str, Any], *, where: str) -> ListSpec:
    """A stored spec, validated; ValidationError naming ``where`` (the list) and the
    field when it is not one this version reads."""
    version = document.get("version", SPEC_VERSION)
    if version != SPEC_VERSION:
        raise ValidationError(f"{where}: filter version {version!r} is not one this "
                              f"kithkin reads (it reads version {SPEC_VERSION})")
    try:
        return ListSpec.model_validate(document)
    except ValueError as exc:
        raise ValidationError(f"{where}: {exc}") from exc
