"""Loyalty statements and requests as the API reads and writes them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class EntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    points: int
    source_key: str
    transaction_id: int | None
    occurred_at: datetime
    reason: str | None
    user_id: int | None


class TierRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    threshold: float
    benefits: list[str]


class PriceLockRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    product_id: int
    price: float
    locked_at: datetime
    until: datetime


class StatementRead(BaseModel):
    customer_id: int
    balance: int = Field(description="The sum of every ledger entry.")
    tier: TierRead
    window_spend: float = Field(description="Net spend over the tier window.")
    next_tier: TierRead | None
    entries: list[EntryRead] = Field(description="Latest entries, newest first.")
    price_locks: list[PriceLockRead]


class RedemptionCreate(BaseModel):
    points: int = Field(gt=0)
    reason: str | None = Field(default=None, max_length=400)
    request_key: str | None = Field(
        default=None, max_length=150,
        description="Idempotency key: a retried request with the same key redeems once.")


class AdjustmentCreate(BaseModel):
    points: int = Field(description="Signed: positive adds, negative takes away.")
    reason: str = Field(min_length=1, max_length=400)
    request_key: str | None = Field(default=None, max_length=150)


class PriceLockCreate(BaseModel):
    product_id: int
    days: int = Field(default=90, ge=1, le=3650)
    price: float | None = Field(default=None, ge=0)
