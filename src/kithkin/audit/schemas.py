"""Audit rows as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    kind: str
    source: str
    actor_user_id: int | None
    actor_label: str | None
    api_key_id: int | None
    ip: str | None
    request_id: str | None
    method: str | None
    path: str | None
    status: int | None
    entity: str | None
    entity_id: str | None
    action: str | None
    changes: dict[str, Any] | None
    summary: str | None
    customer_id: int | None
    scrubbed: bool


class AuditPage(BaseModel):
    items: list[AuditRead]
    next_before_id: int | None
