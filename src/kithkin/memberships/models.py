"""Memberships: loyalty programmes, subscriptions and contracts (financial and structural bonds)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, TimestampMixin


class MembershipKind(StrEnum):
    LOYALTY = "loyalty"
    SUBSCRIPTION = "subscription"
    CONTRACT = "contract"


class Membership(TimestampMixin, Base):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    programme: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    attributes: Mapped[dict[str, Any] | None]
