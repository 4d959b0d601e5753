"""Messages as the API reads and queues them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kithkin.fields import RowId


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int | None
    channel: str
    purpose: str
    template: str
    recipient: str | None
    subject: str | None
    body: str | None
    status: str
    skip_reason: str | None
    reason: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    sent_at: datetime | None
    idempotency_key: str
    dedupe_key: str | None
    created_by_id: int | None
    created_at: datetime


class MessageCreate(BaseModel):
    """A one-off message to one customer (``generic`` takes subject and body in
    ``context``)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: RowId
    template: str = Field(min_length=1, max_length=200)
    channel: Literal["email", "sms", "webhook"] = "email"
    purpose: Literal["marketing", "service", "profiling"] = "marketing"
    context: dict[str, Any] | None = None
    dedupe_key: str | None = Field(default=None, min_length=1, max_length=300)


class StatusCounts(BaseModel):
    counts: dict[str, int]
