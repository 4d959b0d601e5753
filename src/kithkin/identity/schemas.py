"""Duplicate candidates and merges as the API reads and writes them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kithkin.fields import RowId


class CandidateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    run_id: int | None
    customer_id_l: int
    customer_id_r: int
    match_probability: float
    match_weight: float
    status: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None


class FieldComparison(BaseModel):
    field: str
    left: str | date | None
    right: str | date | None
    comparison: str | None = Field(description="Splink comparison the field belongs to.")
    level: str | None = Field(description="Agreement level the pair reached.")
    weight: float | None = Field(description="Match weight (log2 Bayes factor), with tf.")


class CandidateDetail(CandidateRead):
    fields: list[FieldComparison]
    weights: dict[str, Any]


class MergeRequest(BaseModel):
    survivor_id: RowId
    merged_id: RowId
    reason: str | None = Field(default=None, max_length=2000)


class MergeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    survivor_id: int
    merged_id: int
    candidate_id: int | None
    actor: str
    reason: str | None
    merged_at: datetime
    undone_at: datetime | None
    undone_by: str | None
    rows_changed: int

    @classmethod
    def of(cls, entry: Any) -> MergeRead:
        return cls.model_validate(
            {**{k: getattr(entry, k) for k in cls.model_fields if k != "rows_changed"},
             "rows_changed": len(entry.changes)}
        )
