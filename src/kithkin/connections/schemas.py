"""Customer links as the API reads and writes them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from kithkin.connections.models import LinkKind
from kithkin.fields import RowId


class LinkCreate(BaseModel):
    other_customer_id: RowId
    kind: LinkKind = Field(description="referred: this customer referred the other; "
                           "household: same household; contact_of: this customer is a "
                           "contact of the other (a company account).")
    role: str | None = Field(default=None, max_length=100)


class LinkRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_customer_id: int
    to_customer_id: int
    kind: str
    role: str | None
    source: str
    created_at: datetime


class ReferralTreeRead(BaseModel):
    root: int
    referred_by: int | None
    depth: int
    size: int = Field(description="Customers referred, directly and indirectly.")
    edges: list[tuple[int, int]] = Field(description="(referrer, referred) pairs.")


class ReferrerRead(BaseModel):
    customer_id: int
    referred: int
