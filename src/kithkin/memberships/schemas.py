"""Memberships (loyalty, subscriptions, contracts) as the API reads them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class MembershipRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    external_id: str
    customer_id: int
    kind: str
    programme: str
    tier: str | None
    started_at: datetime
    ended_at: datetime | None
