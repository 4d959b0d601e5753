"""Defection history: every change of a customer's defection stage, with its evidence.

The current stage is a column of the metrics block (``customer_metric.defection_stage``
and ``defection_since``, written with the block); this table keeps how it got there.
Rows are keyed by the refresh (``as_of``) that found the change, so re-running that
refresh replaces its own rows, and ``changed_on`` is the day the change happened in the
data (the day the silence crossed its limit, the day the contract ended, the purchase
that won the customer back), which is what the exit-interview task is keyed on.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kithkin.database.base import Base, IdType


class DefectionChange(Base):
    __tablename__ = "defection_change"
    __table_args__ = (
        Index("ix_defection_change_customer", "customer_id", "as_of"),
        Index("ix_defection_change_as_of", "as_of"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("customer.id", ondelete="CASCADE"))
    as_of: Mapped[date]  # the refresh that found it
    changed_on: Mapped[date]  # when it happened in the data
    from_stage: Mapped[str | None] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float)  # the at-risk score at the refresh
    evidence: Mapped[str] = mapped_column(Text)  # JSON object: the figures the rule read
