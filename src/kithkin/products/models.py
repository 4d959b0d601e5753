"""Products: what is sold, with unit cost so margin can be computed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, TimestampMixin

Money = Numeric(18, 2, asdecimal=False)


class Product(TimestampMixin, Base):
    __tablename__ = "product"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    sku: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(100), index=True)
    list_price: Mapped[float | None] = mapped_column(Money)
    unit_cost: Mapped[float | None] = mapped_column(Money)
    # No longer sold from this time on: recommendations and bundles leave it out.
    discontinued_at: Mapped[datetime | None]
    attributes: Mapped[dict[str, Any] | None]
