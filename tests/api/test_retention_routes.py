"""/api/v1/retention: exit interviews, complaint moves, roles and the agent's book."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from kithkin.database.core import session_scope
from kithkin.interactions.models import Interaction
from kithkin.users.models import Role

API = "/api/v1/retention"


def _complaint(engine: Engine, customer_id: int) -> int:
    with session_scope(engine) as session:
        row = Interaction(source="desk", external_id=f"K{customer_id}",
                          customer_id=customer_id, occurred_at=datetime(2025, 3, 1, tzinfo=UTC),
                          direction="inbound", kind="complaint", status="open")
        session.add(row)
        session.flush()
        return row.id


def test_exit_interview_round_trip_with_suggestion(
        client: TestClient, keys: dict[Role, str], bearer: Callable[[str], dict[str, str]],
        add_customers: Callable[..., list[int]]) -> None:
    (customer,) = add_customers(1)
    headers = bearer(keys[Role.MANAGER])
    body = {"customer_id": customer, "text": "Too expensive, I found it cheaper elsewhere.",
            "external_id": "exit-1"}
    created = client.post(f"{API}/exit-interviews", json=body, headers=headers)
    assert created.status_code == 201, created.text
    row = created.json()
    assert (row["suggested_type"], row["suggested_by"]) == ("price", "rules")
    assert row["defector_type"] is None  # staff have not classified it yet
    again = client.post(f"{API}/exit-interviews", json=body, headers=headers)
    assert again.status_code == 409
    patched = client.patch(f"{API}/exit-interviews/{row['id']}", headers=headers,
                           json={"reason_category": "perceived_difference_in_value",
                                 "defector_type": "price"})
    assert patched.json()["defector_type"] == "price"
    bad = client.patch(f"{API}/exit-interviews/{row['id']}", headers=headers,
                       json={"reason_category": None, "defector_type": "cheapskate"})
    assert bad.status_code in (400, 422) and "defector_type" in bad.text
    listed = client.get(f"{API}/exit-interviews", params={"customer_id": customer},
                        headers=headers).json()
    assert [r["id"] for r in listed] == [row["id"]]


def test_complaint_moves_and_roles(client: TestClient, keys: dict[Role, str],
                                   bearer: Callable[[str], dict[str, str]],
                                   add_customers: Callable[..., list[int]],
                                   sqlite_engine: Engine) -> None:
    (customer,) = add_customers(1)
    complaint = _complaint(sqlite_engine, customer)
    analyst = client.post(f"{API}/complaints/{complaint}/respond",
                          headers=bearer(keys[Role.ANALYST]))
    assert analyst.status_code == 403  # analysts read, they do not answer complaints
    agent = client.post(f"{API}/complaints/{complaint}/respond",
                        headers=bearer(keys[Role.AGENT]))
    assert agent.status_code == 403  # not in the agent's book
    headers = bearer(keys[Role.MANAGER])
    responded = client.post(f"{API}/complaints/{complaint}/respond", headers=headers,
                            json={"at": "2025-03-01T04:00:00Z"})
    assert responded.json()["state"] == "responded"
    resolved = client.post(f"{API}/complaints/{complaint}/resolve", headers=headers,
                           json={"at": "2025-03-02T00:00:00Z"})
    assert resolved.json()["state"] == "resolved" and resolved.json()["owner_id"]
    times = client.get(f"{API}/complaints/times", params={"as_of": "2025-12-31"},
                       headers=bearer(keys[Role.ANALYST])).json()
    assert times["median_hours_to_response"] == 4.0
    assert times["median_hours_to_resolution"] == 24.0
    assert client.get(f"{API}/complaints/times").status_code == 401
