"""Prospects: strangers with no transaction yet (leads, bought lists, competitors' customers)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, TimestampMixin


class ProspectOrigin(StrEnum):
    LEAD = "lead"
    IMPORTED_LIST = "imported_list"
    COMPETITOR_CUSTOMER = "competitor_customer"
    REFERRAL = "referral"
    EVENT = "event"


class ProspectStatus(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    CONVERTED = "converted"
    DISQUALIFIED = "disqualified"


class Prospect(TimestampMixin, Base):
    __tablename__ = "prospect"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(200))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    email_normalized: Mapped[str | None] = mapped_column(String(320), index=True)
    phone_e164: Mapped[str | None] = mapped_column(String(32))
    origin: Mapped[str] = mapped_column(String(32), default=ProspectOrigin.LEAD)
    competitor: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32), default=ProspectStatus.NEW)
    captured_at: Mapped[datetime | None]
    converted_customer_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="SET NULL")
    )
    attributes: Mapped[dict[str, Any] | None]
