"""Privacy records: the consent ledger, the suppression list and the erasure log.

The ledger is append-only: a withdrawal after a grant is a new row, never an update, so
the answer to "what had this person agreed to on that day, and how do we know?" survives
every later change. The current state lives in the ``consent`` projection
(:class:`kithkin.customers.models.Consent`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, utcnow


class ConsentSource:
    """Where a consent event came from (a free string column; these are the known ones)."""

    IMPORT = "import"
    API = "api"
    FORM = "form"  # a customer-facing form (web sign-up, paper form keyed in)
    STAFF = "staff"  # a staff user on the 360 page (phone call, in store)

    ALL = (IMPORT, API, FORM, STAFF)


class ConsentEvent(Base):
    """One grant, denial or withdrawal (``opted_out``) of one channel for one purpose."""

    __tablename__ = "consent_event"
    __table_args__ = (
        Index("ix_consent_event_customer", "customer_id", "channel", "purpose", "id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    # Which import job, API key or form: enough to find the original record.
    source_detail: Mapped[str | None] = mapped_column(String(200))
    staff_user_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff_user.id", ondelete="SET NULL"))
    # The text the customer agreed to (or refused), as shown to them.
    wording: Mapped[str | None] = mapped_column(Text)
    # How we know: form URL and IP, recording id, signed paper form reference.
    evidence: Mapped[str | None] = mapped_column(Text)
    # When the customer gave it (may precede the recording, e.g. on import).
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Suppression(Base):
    """A keyed digest (HMAC-SHA256 with the server secret) of an erased e-mail, phone or
    (source, external id): imports skip rows that carry one, so an erased person does not
    come back with the next nightly file. The value itself is never stored."""

    __tablename__ = "suppression"
    __table_args__ = (UniqueConstraint("kind", "digest"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # email, phone, identifier
    digest: Mapped[str] = mapped_column(String(64))
    erasure_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("erasure.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Erasure(Base):
    """Who erased which (now pseudonymous) customer id, when, and what was removed.

    Holds no erased value: only ids and counts. ``customer_id`` is a plain column (no
    foreign key) like the merge log, because the log is history.
    """

    __tablename__ = "erasure"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int] = mapped_column(IdType, index=True)
    # Every record of the person's merge cluster erased by this request.
    customer_ids: Mapped[list[int]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(320))
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)
    # {"identifiers": 3, "interactions": 5, "merge_images": 1, "files": {...}, ...}
    removed: Mapped[dict[str, Any]]
