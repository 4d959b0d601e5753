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

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from kithkin.customers.models import Channel
from kithkin.errors import ValidationError
from kithkin.fields import IsoDate, Number, RowId
from kithkin.relationships.levels import Level
from kithkin.tags import service as tag_service

SPEC_VERSION = 1
# Segment kinds stored per customer; a level filter may also name "stage:<model>" kinds.
SEGMENT_KINDS = ("rfm_segment", "needs_segment")
LEVEL_KINDS = ("rfm_segment", "needs_segment", "value_tier")
# A tag as typed: normalised on the way in (kithkin.tags.service.normalize).
TagText = Annotated[str, Field(min_length=1, max_length=64,
                               pattern=r"^ *[A-Za-z0-9][A-Za-z0-9_.: -]*$")]


class ListSpec(BaseModel):
    """Version 1 of a list's filter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1  # SPEC_VERSION
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
    moved_down_since: IsoDate | None = Field(None, description=(
        "Moved down a stage (of moved_down_model, else of any model) on or after."))
    moved_down_model: str | None = None
    value_tier: str | None = None
    at_risk: StrictBool | None = Field(None, description=(
        "true: at risk; false: not at risk; unknown risk matches neither."))
    clv_min: Number | None = None
    clv_max: Number | None = None
    account_manager_id: RowId | None = None
    consent_channel: Channel | None = Field(None, description=(
        "Only customers whose current consent on this channel is granted."))
    tags: list[TagText] = Field(default_factory=list, max_length=20,
                                description="Has every one of these.")
    exclude_tags: list[TagText] = Field(default_factory=list, max_length=20,
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

    def check(self) -> ListSpec:
        """Raise ValidationError naming the field when two filters contradict each other
        (rules the JSON Schema cannot state, so they are business rules: a 422 that names
        the field, never a request-validation error)."""
        if (self.clv_min is not None and self.clv_max is not None
                and self.clv_min > self.clv_max):
            raise ValidationError(f"clv_min: {self.clv_min} is above clv_max {self.clv_max}")
        if (self.segment is None) != (self.segment_kind is None):
            raise ValidationError("segment_kind: segment and segment_kind go together, "
                                  "e.g. segment_kind rfm_segment, segment champions")
        if self.level_kind is not None and not (
                self.level_kind in LEVEL_KINDS or self.level_kind.startswith("stage:")):
            raise ValidationError(f"level_kind: {self.level_kind!r} is not one of "
                                  f"stage:<model>, {', '.join(LEVEL_KINDS)}")
        both = sorted(set(self.tags) & set(self.exclude_tags))
        if both:
            raise ValidationError(f"tags: {both} cannot be both required and excluded")
        return self

    def describe(self) -> list[str]:
        """The filters in words, for pages and the CLI (empty: every customer)."""
        parts = []
        for name, value in self.model_dump(exclude={"version"}, exclude_defaults=True).items():
            shown = (", ".join(value) if isinstance(value, list)
                     else ("yes" if value else "no") if isinstance(value, bool) else value)
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
        return ListSpec.model_validate(document).check()
    except ValueError as exc:  # pydantic's, naming the field
        raise ValidationError(f"{where}: {exc}") from exc
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc}") from exc
