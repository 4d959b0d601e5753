"""Products as the API reads them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class ProductRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sku: str
    name: str
    category: str | None
    list_price: float | None
    unit_cost: float | None
    discontinued_at: datetime | None = None
