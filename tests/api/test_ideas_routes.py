"""/ideas: submit (once per client id), vote once per customer, comment, move with a
public reply that tells the submitter, rank by votes and value; roles."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from kithkin.analytics.models import CustomerMetric, MetricsRun
from kithkin.database.core import session_scope
from kithkin.interactions.models import Interaction
from kithkin.outbox.models import Message
from kithkin.users.models import Role

Headers = Callable[[str], dict[str, str]]


def test_idea_lifecycle(client: TestClient, keys: dict[Role, str], bearer: Headers,
                        add_customers: Callable[..., list[int]],
                        sqlite_engine: Engine) -> None:
    ada, alan, grace = add_customers(3)
    site = bearer(keys[Role.MANAGER])  # the firm's site posts with a key
    new = {"title": "Refill pouches", "body": "Sell refills for the tins.",
           "customer_id": ada, "external_id": "site-77"}
    first = client.post("/api/v1/ideas", json=new, headers=site)
    again = client.post("/api/v1/ideas", json=new, headers=site)
    assert first.status_code == again.status_code == 201
    idea_id = first.json()["id"]
    assert again.json()["id"] == idea_id and first.json()["status"] == "new"
    with session_scope(sqlite_engine) as session:
        kinds = session.scalars(select(Interaction.kind).where(
            Interaction.customer_id == ada)).all()
    assert kinds == ["idea"]  # counts toward co-creation stages and the bond

    votes = [client.post(f"/api/v1/ideas/{idea_id}/votes", json={"customer_id": c},
                         headers=site).json() for c in (alan, alan, grace)]
    assert [v["counted"] for v in votes] == [True, False, True] and votes[-1]["votes"] == 2
    said = client.post(f"/api/v1/ideas/{idea_id}/comments",
                       json={"body": "Yes please", "customer_id": grace}, headers=site)
    assert said.status_code == 201

    agent = bearer(keys[Role.AGENT])
    assert client.post(f"/api/v1/ideas/{idea_id}/status", json={"status": "planned"},
                       headers=agent).status_code == 403
    no_reply = client.post(f"/api/v1/ideas/{idea_id}/status", json={"status": "planned"},
                           headers=site)
    assert no_reply.status_code == 422 and "say why" in no_reply.json()["detail"]
    moved = client.post(f"/api/v1/ideas/{idea_id}/status",
                        json={"status": "planned", "public_reply": "In the spring range."},
                        headers=site)
    assert moved.status_code == 200 and moved.json()["to_status"] == "planned"
    backwards = client.post(f"/api/v1/ideas/{idea_id}/status", json={"status": "new"},
                            headers=site)
    assert backwards.status_code == 409 and "can move to" in backwards.json()["detail"]

    detail = client.get(f"/api/v1/ideas/{idea_id}", headers=bearer(keys[Role.ANALYST]))
    body = detail.json()
    assert body["idea"]["public_reply"] == "In the spring range." and body["votes"] == 2
    assert [h["to_status"] for h in body["history"]] == ["planned"]
    with session_scope(sqlite_engine) as session:
        told = session.scalars(select(Message).where(Message.customer_id == ada)).all()
    assert [(m.template, m.purpose) for m in told] == [("idea_status", "service")]


def test_ranking_by_value_is_unknown_before_a_refresh(
        client: TestClient, keys: dict[Role, str], bearer: Headers,
        add_customers: Callable[..., list[int]], sqlite_engine: Engine) -> None:
    small, big, voter = add_customers(3)
    headers = bearer(keys[Role.MANAGER])
    ids = [client.post("/api/v1/ideas", json={"title": t, "body": "b", "customer_id": c},
                       headers=headers).json()["id"] for t, c in (("A", small), ("B", big))]
    client.post(f"/api/v1/ideas/{ids[0]}/votes", json={"customer_id": voter}, headers=headers)
    by_votes = client.get("/api/v1/ideas?by=votes", headers=headers).json()
    assert [r["idea"]["title"] for r in by_votes] == ["A", "B"]
    assert all(r["value"] is None for r in by_votes)
    as_of = date(2026, 1, 1)
    with session_scope(sqlite_engine) as session:
        session.add(MetricsRun(as_of=as_of, engine="duckdb"))
        for customer, clv in ((small, 10.0), (big, 900.0), (voter, 5.0)):
            session.add(CustomerMetric(as_of=as_of, customer_id=customer, clv=clv))
    by_value = client.get("/api/v1/ideas?by=value", headers=headers).json()
    assert [(r["idea"]["title"], r["value"]) for r in by_value] == [("B", 900.0), ("A", 15.0)]
