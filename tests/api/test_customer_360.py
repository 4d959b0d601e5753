"""The customer 360 reads rows and writes its JSON itself: it must answer exactly what
validating the ORM objects against the read schemas (and FastAPI's encoding) gives."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.encoders import jsonable_encoder
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kithkin.analytics.models import CustomerMetric
from kithkin.api.app import create_app
from kithkin.config import get_settings
from kithkin.customers.models import Consent, Customer, CustomerIdentifier
from kithkin.customers.schemas import CustomerDetail, CustomerProfile
from kithkin.database.core import session_scope
from kithkin.interactions.models import Interaction
from kithkin.interactions.schemas import InteractionRead
from kithkin.memberships.models import Membership
from kithkin.memberships.schemas import MembershipRead
from kithkin.transactions.models import Transaction
from kithkin.transactions.schemas import TransactionRead
from kithkin.users import service as user_service
from kithkin.users.models import Role

T0 = datetime(2024, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def _seed(session: Session) -> tuple[int, int]:
    """A customer with more of everything than the 360 shows, and one with nothing."""
    full = Customer(first_name="Zoë", last_name="Ŀovelace", email="zoe@example.com",
                    country="FR", date_of_birth=date(1990, 12, 10), attributes={"vip": True},
                    identifiers=[CustomerIdentifier(source="shop", external_id="c1"),
                                 CustomerIdentifier(source="crm", external_id="X-9")],
                    consents=[Consent(channel="email", status="granted"),
                              Consent(channel="sms", status="opted_out", source="form")])
    empty = Customer(company="Acme", identifiers=[CustomerIdentifier(source="shop",
                                                                      external_id="c2")])
    session.add_all([full, empty])
    session.flush()
    for n in range(13):
        # Orders 11 and 12 share a time: the newer id comes first.
        session.add(Transaction(source="shop", order_id=f"o{n}", customer_id=full.id,
                                ordered_at=T0 + timedelta(days=min(n, 11)),
                                amount=10.1 + n, cost=None if n % 3 else 4.3,
                                discount=0.5 if n == 12 else None, currency="EUR"))
        session.add(Interaction(source="desk", external_id=f"i{n}", customer_id=full.id,
                                occurred_at=T0 + timedelta(hours=n), direction="inbound",
                                kind="complaint" if n % 2 else "survey_response",
                                score=9.0 if n % 2 == 0 else None,
                                score_scale="nps" if n % 2 == 0 else None,
                                status="resolved" if n % 2 else None,
                                resolved_at=T0 + timedelta(hours=n + 5) if n % 2 else None,
                                subject="Late parcel", text=f"call me ({n})",
                                tags=["late", "vip"] if n == 12 else None,
                                attributes={"not": "shown"}))
    session.add_all([
        Membership(source="shop", external_id="m1", customer_id=full.id, kind="loyalty",
                   programme="Club", tier="gold", started_at=T0),
        Membership(source="shop", external_id="m2", customer_id=full.id, kind="subscription",
                   programme="Box", started_at=T0 - timedelta(days=400),
                   ended_at=T0 - timedelta(days=30)),
        CustomerMetric(as_of=date(2024, 5, 1), customer_id=full.id, orders=11, clv=1.0),
        CustomerMetric(as_of=date(2024, 6, 1), customer_id=full.id, orders=13, clv=321.5,
                       p_alive=0.25, first_purchase_at=T0, rfm_segment="champions"),
    ])
    session.flush()
    return full.id, empty.id


def _reference(session: Session, customer_id: int) -> Any:
    """The 360 the straightforward way: ORM objects through the read schemas."""
    customer = session.get_one(Customer, customer_id)
    orders = session.scalars(select(Transaction).where(Transaction.customer_id == customer_id)
                             .order_by(Transaction.ordered_at.desc(), Transaction.id.desc())
                             .limit(10))
    touches = session.scalars(select(Interaction).where(Interaction.customer_id == customer_id)
                              .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
                              .limit(10))
    bonds = session.scalars(select(Membership).where(Membership.customer_id == customer_id)
                            .order_by(Membership.started_at.desc()))
    metric = session.scalars(select(CustomerMetric).where(
        CustomerMetric.customer_id == customer_id).order_by(CustomerMetric.as_of.desc())).first()
    metrics = None if metric is None else {
        column.key: getattr(metric, column.key) for column in CustomerMetric.__table__.columns
        if column.key not in {"id", "customer_id"}}
    profile = CustomerProfile.model_validate(customer).model_dump()
    profile["identifiers"].sort(key=lambda i: (i["source"] != "shop"))  # oldest first
    profile["consents"].sort(key=lambda c: c["channel"])
    return jsonable_encoder(CustomerDetail(
        **profile,
        recent_transactions=[TransactionRead.model_validate(t) for t in orders],
        recent_interactions=[InteractionRead.model_validate(i) for i in touches],
        memberships=[MembershipRead.model_validate(m) for m in bonds],
        metrics=jsonable_encoder(metrics),
    ))


def test_the_360_equals_the_orm_read_of_the_same_rows(store_engine: Engine) -> None:
    with session_scope(store_engine) as session:
        full, empty = _seed(session)
        user = user_service.create_user(session=session, email="m@example.com", name="M",
                                        password="long password", role=Role.MANAGER)
        _, key = user_service.create_api_key(
            session=session, settings=get_settings(), user_id=user.id, name="t", scopes=["*"])
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(include_dashboard=False)) as client:
        answers = {cid: client.get(f"/api/v1/customers/{cid}", headers=headers)
                   for cid in (full, empty)}
        missing = client.get("/api/v1/customers/999999", headers=headers)
    with session_scope(store_engine) as session:
        for cid, response in answers.items():
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "application/json"
            assert response.json() == _reference(session, cid)
    detail = answers[full].json()
    assert [t["order_id"] for t in detail["recent_transactions"]][:3] == ["o12", "o11", "o10"]
    assert detail["recent_transactions"][0]["margin"] == pytest.approx(22.1 - 4.3)
    assert detail["recent_interactions"][0]["tags"] == ["late", "vip"]
    assert "attributes" not in detail["recent_interactions"][0]
    assert detail["metrics"]["as_of"] == "2024-06-01" and detail["metrics"]["orders"] == 13
    assert answers[empty].json()["metrics"] is None
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
