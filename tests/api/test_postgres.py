"""The API on the production store: pagination, idempotent events, export and erasure."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from kithkin.api.app import create_app
from kithkin.config import get_settings
from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.database.core import session_scope
from kithkin.interactions.models import Interaction
from kithkin.users import service as user_service
from kithkin.users.models import Role


@pytest.mark.postgres
def test_api_on_postgresql(pg_engine: Engine) -> None:
    with session_scope(pg_engine) as session:
        user = user_service.create_user(session=session, email="m@example.com", name="M",
                                        password="long password", role=Role.MANAGER)
        _, key = user_service.create_api_key(
            session=session, settings=get_settings(), user_id=user.id, name="t", scopes=["*"])
        session.add_all([Customer(first_name=f"F{i}", last_name=f"L{i % 4}", email=f"{i}@x.io",
                                  identifiers=[CustomerIdentifier(source="shop",
                                                                  external_id=f"c{i}")])
                         for i in range(23)])
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(include_dashboard=False)) as client:
        seen: list[int] = []
        cursor = None
        while True:
            params = {"limit": 5, "sort": "-last_name", **({"after": cursor} if cursor else {})}
            page = client.get("/api/v1/customers", params=params, headers=headers).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 23
        records = [{"source": "web", "external_id": f"e{n}", "customer_external_id": f"c{n % 23}",
                    "customer_source": "shop", "occurred_at": "2024-01-01T00:00:00Z",
                    "direction": "inbound", "kind": "complaint", "text": "secret"}
                   for n in range(60)]
        for _ in range(2):
            response = client.post("/api/v1/events/batch", headers=headers,
                                   json={"kind": "interactions", "records": records})
            assert response.status_code == 200, response.text
        with session_scope(pg_engine) as session:
            assert session.scalar(select(func.count()).select_from(Interaction)) == 60
        customer_id = seen[0]
        exported = client.get(f"/api/v1/privacy/customers/{customer_id}/export",
                              headers=headers)
        assert exported.json()["sections"]["interaction"][0]["text"] == "secret"
        erased = client.post(f"/api/v1/privacy/customers/{customer_id}/erase",
                             headers=headers).json()
        assert erased["customer_ids"] == [customer_id]
        profile = client.get(f"/api/v1/customers/{customer_id}", headers=headers).json()
        assert profile["first_name"] is None and profile["erased_at"] is not None
        with session_scope(pg_engine) as session:
            texts = session.scalars(select(Interaction.text).where(
                Interaction.customer_id == customer_id)).all()
            assert texts and set(texts) == {None}
