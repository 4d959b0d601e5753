"""The loyalty section of the customer 360 page: balance, tier and latest entries."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from kithkin.config import Settings
from kithkin.dashboard.sections import CustomerSection, register_customer_section
from kithkin.errors import KithkinError
from kithkin.loyalty import programme as loyalty_programme
from kithkin.loyalty import service as loyalty_service
from kithkin.loyalty.models import LoyaltyEntry


def load(session: Session, customer_id: int,
         settings: Settings) -> loyalty_service.Statement | str | None:
    """None for a customer who never earned a point (no empty ledger on the page); the
    programme file's error as text when it cannot be read, so the page still renders."""
    if not session.scalar(select(exists().where(LoyaltyEntry.customer_id == customer_id))):
        return None
    try:
        programme = loyalty_programme.load(settings.home)
    except KithkinError as exc:
        return str(exc)
    return loyalty_service.statement(session=session, programme=programme,
                                     customer_id=customer_id, limit=10)


register_customer_section(CustomerSection(
    key="loyalty", title="Loyalty", template="_customer_loyalty.html", loader=load, order=50))
