"""Exit interviews and complaint moves as the API reads and writes them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from kithkin.fields import IsoDatetime, RowId


class ExitInterviewCreate(BaseModel):
    customer_id: RowId
    text: str = Field(min_length=1, description="The customer's words.")
    occurred_at: IsoDatetime | None = None
    reason_category: str | None = None
    defector_type: str | None = None
    channel: str | None = None
    external_id: str | None = Field(default=None, max_length=200,
                                    description="Client id making the call idempotent.")


class ExitInterviewClassify(BaseModel):
    reason_category: str | None
    defector_type: str | None


class ExitInterviewRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    interaction_id: int | None
    occurred_at: datetime
    text: str
    reason_category: str | None
    defector_type: str | None
    suggested_category: str | None
    suggested_type: str | None
    suggested_by: str | None


class SuggestRequest(BaseModel):
    customer_id: RowId
    text: str


class SuggestionRead(BaseModel):
    defector_type: str | None
    reason_category: str | None
    method: str


class ComplaintMove(BaseModel):
    at: IsoDatetime | None = Field(default=None, description="Default: now.")


class ComplaintRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int | None
    occurred_at: datetime
    status: str | None
    responded_at: datetime | None
    resolved_at: datetime | None
    owner_id: int | None
    state: str
