"""Transactions (orders) and lines as the API reads them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class TransactionLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    line_no: int
    product_id: int | None
    sku: str | None
    quantity: float
    unit_price: float
    discount: float | None
    unit_cost: float | None
    bundle: str | None


class TransactionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    order_id: str
    customer_id: int
    ordered_at: datetime
    amount: float
    cost: float | None
    discount: float | None
    margin: float | None
    currency: str | None
    channel: str | None
    quantity: float | None = None
    created_at: datetime


class TransactionWithLines(TransactionRead):
    lines: list[TransactionLineRead]
