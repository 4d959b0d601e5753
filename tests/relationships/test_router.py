"""The /relationships API router, mounted on the application."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kithkin.api.app import API_PREFIX, create_app
from kithkin.config import get_settings
from kithkin.database.core import session_scope
from kithkin.relationships import router as relationships_router
from kithkin.relationships import service
from kithkin.users import service as user_service
from kithkin.users.models import Role

from .crafted import CUSTOMERS, DRIFT, add_customers, metrics
from .test_refresh import FIRST, SECOND


def _client_and_key(role: Role) -> tuple[TestClient, str]:
    app = create_app(include_dashboard=False)
    if not any(getattr(r, "path", "").startswith(f"{API_PREFIX}/relationships")
               for r in app.routes):
        app.include_router(relationships_router.router, prefix=API_PREFIX)
    with session_scope() as session:
        user = user_service.create_user(session=session, email=f"{role}@example.com",
                                        name=role.title(), password="long enough pw 1",
                                        role=role)
        _, key = user_service.create_api_key(
            session=session, settings=get_settings(), user_id=user.id, name="t", scopes=["*"])
    return TestClient(app), key


@pytest.fixture
def refreshed(sqlite_engine: Engine) -> Engine:
    add_customers(sqlite_engine, list(CUSTOMERS))
    with Session(sqlite_engine) as session:
        service.refresh(session=session, settings=get_settings(), as_of=FIRST, metrics=metrics())
        service.refresh(session=session, settings=get_settings(), as_of=SECOND,
                        metrics=metrics({5: DRIFT}))
        session.commit()
    return sqlite_engine


def test_reads_and_override(refreshed: Engine) -> None:
    client, key = _client_and_key(Role.ADMIN)
    headers = {"Authorization": f"Bearer {key}"}
    with client:
        models = client.get(f"{API_PREFIX}/relationships/models", headers=headers).json()
        assert {m["name"] for m in models} == {"journey", "ladder", "pyramid"}
        assert all(m["preset_in_use"] is None for m in models)  # rich data: as is
        found = client.get(f"{API_PREFIX}/relationships/customers/5", headers=headers)
        assert found.status_code == 200, found.text
        journey = next(s for s in found.json()["stages"] if s["model"] == "journey")
        assert journey["stage"] == "acquaintance"
        assert client.get(f"{API_PREFIX}/relationships/customers/77",
                          headers=headers).status_code == 404
        transitions = client.get(f"{API_PREFIX}/relationships/reports/journey/transitions",
                                 params={"start": str(FIRST), "end": str(SECOND)},
                                 headers=headers).json()
        assert transitions["counts"]["friend"] == {"stranger": 0, "acquaintance": 1,
                                                   "friend": 1, "partner": 0}
        funnel = client.get(f"{API_PREFIX}/relationships/reports/journey/funnel",
                            headers=headers).json()
        assert [row["reached"] for row in funnel] == [5, 4, 3, 1]
        down = client.get(f"{API_PREFIX}/relationships/reports/moved-down",
                          headers=headers).json()
        assert {row["model"] for row in down} == {"journey", "ladder"}
        put = client.put(f"{API_PREFIX}/relationships/levels/value_tier/ordinary/override",
                         json={"level": "proactive", "reason": "pilot"}, headers=headers)
        assert put.status_code == 200, put.text
        assert (put.json()["level"], put.json()["override_by"]) == ("proactive",
                                                                    "admin@example.com")
        bad = client.put(f"{API_PREFIX}/relationships/levels/value_tier/ordinary/override",
                         json={"level": "bestie"}, headers=headers)
        assert bad.status_code == 422
        levels = client.get(f"{API_PREFIX}/relationships/levels",
                            params={"kind": "value_tier"}, headers=headers).json()
        assert any(row["override_level"] == "proactive" for row in levels)


def test_models_say_which_preset_the_latest_refresh_used(sqlite_engine: Engine) -> None:
    add_customers(sqlite_engine, list(CUSTOMERS))
    sales_log = metrics()[["customer_id", "orders", "days_since_last_purchase",
                           "tenure_days", "frequency", "revenue", "clv", "p_alive"]]
    with Session(sqlite_engine) as session:
        service.refresh(session=session, settings=get_settings(), as_of=FIRST, metrics=sales_log,
                        derive_inputs=False)
        session.commit()
    client, key = _client_and_key(Role.ANALYST)
    with client:
        models = client.get(f"{API_PREFIX}/relationships/models",
                            headers={"Authorization": f"Bearer {key}"}).json()
    used = {m["name"]: m["preset_in_use"] for m in models}
    assert used == {"journey": "transaction_only", "ladder": None, "pyramid": None}
