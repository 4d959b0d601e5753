"""Enrolment for tests: the shipped programme rewards enrolled members only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from kithkin.memberships.models import Membership


def enrol(session: Session, customer_id: int, *, days_ago: int = 400) -> None:
    """A current loyalty membership that began ``days_ago`` days ago."""
    session.add(Membership(source="test", external_id=f"loyalty-{customer_id}",
                           customer_id=customer_id, kind="loyalty", programme="rewards",
                           started_at=datetime.now(UTC) - timedelta(days=days_ago)))
    session.flush()
