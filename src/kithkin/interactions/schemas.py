"""Interactions as the API reads and writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kithkin.fields import IsoDatetime, Number, RowId
from kithkin.interactions.models import (
    Direction,
    InteractionChannel,
    InteractionKind,
    ScoreScale,
    TicketStatus,
)


class InteractionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    external_id: str
    customer_id: int | None
    prospect_id: int | None
    occurred_at: datetime
    channel: str | None
    direction: str
    kind: str
    subject: str | None
    text: str | None
    score: float | None
    score_scale: str | None
    status: str | None
    resolved_at: datetime | None
    tags: list[str] | None
    staff_user_id: int | None
    created_at: datetime


class InteractionCreate(BaseModel):
    """A touch logged by staff against a customer the API already knows by id."""

    customer_id: RowId
    occurred_at: IsoDatetime
    kind: InteractionKind
    direction: Direction
    channel: InteractionChannel | None = None
    subject: str | None = Field(default=None, max_length=300)
    text: str | None = None
    score: Number | None = None
    score_scale: ScoreScale | None = None
    status: TicketStatus | None = None
    tags: list[str] | None = None
    attributes: dict[str, Any] | None = None
    external_id: str | None = Field(
        default=None, max_length=200,
        description="Client id making the call idempotent; default: generated.",
    )
