"""The offers section of the customer 360 page: next-best products and a bundle."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kithkin.config import Settings
from kithkin.dashboard.sections import CustomerSection, register_customer_section
from kithkin.offers import service as offer_service


def load(session: Session, customer_id: int,
         _settings: Settings) -> offer_service.CustomerOffers | None:
    offers = offer_service.for_customer(session=session, customer_id=customer_id, limit=5)
    return offers if offers.next_best or offers.bundle else None


register_customer_section(CustomerSection(
    key="offers", title="Next best offers", template="_customer_offers.html", loader=load,
    order=40))
