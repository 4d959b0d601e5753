"""Prospects as the API reads them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class ProspectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    external_id: str
    first_name: str | None
    last_name: str | None
    company: str | None
    email: str | None
    phone_e164: str | None
    origin: str
    competitor: str | None
    status: str
    captured_at: datetime | None
    converted_customer_id: int | None
    created_at: datetime
