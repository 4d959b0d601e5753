"""Request and response bodies of /privacy."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kithkin.customers.models import Channel, ConsentStatus, Purpose
from kithkin.fields import IsoDatetime


class ConsentEventCreate(BaseModel):
    """One grant, denial or withdrawal (``opted_out``) to record."""

    channel: Channel
    purpose: Purpose = Purpose.MARKETING
    status: ConsentStatus
    source: str = Field(default="api", pattern="^(import|api|form|staff)$",
                        description="Where the statement came from: import, api, form "
                                    "or staff (the calling staff user is recorded).")
    source_detail: str | None = Field(default=None, max_length=200,
                                      description="Which form, campaign or file.")
    wording: str | None = Field(default=None, max_length=10_000,
                                description="The text the customer agreed to or refused.")
    evidence: str | None = Field(default=None, max_length=10_000,
                                 description="How it is known: form URL and IP, recording.")
    occurred_at: IsoDatetime | None = Field(
        default=None, description="When the customer said it (default: now).")


class ConsentEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    channel: Channel
    purpose: Purpose
    status: ConsentStatus
    source: str
    source_detail: str | None
    staff_user_id: int | None
    wording: str | None
    evidence: str | None
    occurred_at: datetime
    recorded_at: datetime


class ConsentStateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    channel: Channel
    purpose: Purpose
    status: ConsentStatus
    updated_at: datetime
    source: str | None


class ConsentHistory(BaseModel):
    """The current state per channel and purpose, and the ledger behind it."""

    customer_id: int
    current: list[ConsentStateRead]
    events: list[ConsentEventRead]


class ConsentingCustomers(BaseModel):
    channel: Channel
    purpose: Purpose
    customer_ids: list[int]


class ErasureRead(BaseModel):
    """The erasure log row: ids and counts, never the erased values."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int = Field(description="The pseudonymous id the orders stay under.")
    customer_ids: list[int]
    actor: str
    erased_at: datetime
    removed: dict[str, Any]
