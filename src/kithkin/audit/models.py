"""The audit trail table and the one-row grant that lets erasure scrub it.

``audit_log`` has no foreign keys on purpose: a deleted user, key or customer must not
cascade into the trail (an ``ON DELETE SET NULL`` would be an UPDATE the append-only
trigger refuses, and would erase the evidence of who did what).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType, utcnow


class AuditKind:
    REQUEST = "request"  # a state-changing HTTP request (method, path, status)
    EXPORT = "export"  # a read that takes data out (CSV, customer export)
    CHANGE = "change"  # one ORM row inserted, updated or deleted
    BULK = "bulk"  # a set-based write: a summary, not every row
    POLICY = "policy"  # a retention-policy run
    BACKUP = "backup"  # a backup or restore


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity", "entity", "entity_id"),
        Index("ix_audit_log_actor_at", "actor_user_id", "at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # api, dashboard, cli, scheduler, system
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(),
                                                                                "sqlite"))
    actor_label: Mapped[str | None] = mapped_column(String(320))
    api_key_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(),
                                                                             "sqlite"))
    ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(32), index=True)
    method: Mapped[str | None] = mapped_column(String(8))
    path: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[int | None]
    entity: Mapped[str | None] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(32))
    # {field: [before, after]}; secrets read "[redacted]", erased customers "[erased]".
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    summary: Mapped[str | None] = mapped_column(Text)
    # The customer a row's values belong to, so erasure can find and scrub them.
    customer_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), index=True)
    scrubbed: Mapped[bool] = mapped_column(default=False)


class AuditScrubGrant(Base):
    """Present (one row, inside the scrubbing transaction) only while
    :func:`kithkin.audit.service.scrub_customer` runs on SQLite: the update trigger lets
    ``changes``/``scrubbed`` change only then. PostgreSQL uses a transaction-local setting
    instead; this table stays empty there."""

    __tablename__ = "audit_scrub_grant"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
