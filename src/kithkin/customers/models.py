"""Customers: the people and organisations the firm has transacted with."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kithkin.database.base import Base, IdType, TimestampMixin, utcnow


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    POST = "post"


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    OPTED_OUT = "opted_out"  # a withdrawal of consent given earlier


class Purpose(StrEnum):
    """What a consent is for: the same person may take service mail but refuse offers."""

    MARKETING = "marketing"
    SERVICE = "service"
    PROFILING = "profiling"


class Customer(TimestampMixin, Base):
    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    # Lower-cased, provider rules applied: the key deterministic matching joins on.
    email_normalized: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(64))
    phone_e164: Mapped[str | None] = mapped_column(String(32), index=True)
    date_of_birth: Mapped[date | None]
    # The text as imported when it was not a valid date (day 33, month 13): registers
    # have such typos, and matching still compares the digits.
    date_of_birth_raw: Mapped[str | None] = mapped_column(String(64))
    address_line: Mapped[str | None] = mapped_column(String(400))
    address_line2: Mapped[str | None] = mapped_column(String(400))
    city: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(2))
    acquisition_source: Mapped[str | None] = mapped_column(String(100))
    acquired_at: Mapped[datetime | None]
    attributes: Mapped[dict[str, Any] | None]
    # Set when this record was merged into another (the survivor); undo clears it.
    merged_into_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    erased_at: Mapped[datetime | None]
    # The staff member who looks after this customer (their account manager); agents
    # see only the customers assigned to them.
    account_manager_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"), index=True
    )

    identifiers: Mapped[list[CustomerIdentifier]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )
    consents: Mapped[list[Consent]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or self.company or self.email or f"customer {self.id}"


class CustomerIdentifier(Base):
    """Every (source, external id) a customer is known by.

    Orders and interactions from any source resolve to a customer through this table,
    so a record matched across sources, or merged, keeps receiving its history.
    """

    __tablename__ = "customer_identifier"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="identifiers")


class Consent(Base):
    """The current consent per channel and purpose; absence means never asked.

    A projection of the append-only ledger (``kithkin.privacy.models.ConsentEvent``),
    written in the same transaction as each event, so readers (the outbox's consent
    check, list exports) keep one simple query. Write it only through
    ``kithkin.privacy.consent.record``.
    """

    __tablename__ = "consent"
    __table_args__ = (UniqueConstraint("customer_id", "channel", "purpose"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int] = mapped_column(IdType, ForeignKey("customer.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16), default=Purpose.MARKETING,
                                         server_default=Purpose.MARKETING.value)
    status: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str | None] = mapped_column(String(100))

    customer: Mapped[Customer] = relationship(back_populates="consents")


Index("ix_customer_name", Customer.last_name, Customer.first_name)
# The customer list sorted by name: (last_name, id) is its keyset order.
Index("ix_customer_last_name_id", Customer.last_name, Customer.id)
