"""/api/v1/customers/{id}/preferences: customer memory as a first-class, editable part
of the customer; the outbox reads it through preferences.service.template_context."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.preferences import service as preference_service
from kithkin.users.models import Role


@pytest.fixture
def people(make_user: Callable[..., tuple[int, str]], add_customers: Callable[..., list[int]],
           assign_customers: Callable[..., None]) -> dict[str, Any]:
    _, ann = make_user(Role.AGENT, email="ann@example.com")
    _, boss = make_user(Role.MANAGER, email="boss@example.com")
    _, analyst = make_user(Role.ANALYST, email="analyst@example.com")
    ids = add_customers(2)
    assign_customers("ann@example.com", ids[:1])
    return {"ids": ids, "ann": {"X-API-Key": ann}, "boss": {"X-API-Key": boss},
            "analyst": {"X-API-Key": analyst}}


def test_read_edit_and_template_context(client: TestClient, people: dict[str, Any],
                                        sqlite_engine: Engine) -> None:
    mine, other = people["ids"]
    path = f"/api/v1/customers/{mine}/preferences"
    empty = client.get(path, headers=people["ann"]).json()
    assert (empty["source"], empty["categories"]) == ("none", [])
    body = {"categories": [" Jazz ", "jazz", "books"], "brands": ["Acme"],
            "sizes": ["shoes 42"], "channels": ["SMS", "email"], "notes": "mornings"}
    saved = client.put(path, json=body, headers=people["ann"])
    assert saved.status_code == 200, saved.text
    assert saved.json()["categories"] == ["Jazz", "books"]
    assert saved.json()["channels"] == ["sms", "email"]
    assert client.get(path, headers=people["analyst"]).json()["source"] == "edited"
    with session_scope(sqlite_engine) as session:
        context = preference_service.template_context(session=session, customer_id=mine)
        many = preference_service.template_contexts(session=session,
                                                    customer_ids=[mine, other])
    assert context["preferences"]["favourite_channel"] == "sms"
    assert context["preferences"]["known"] is True
    assert many[mine] == context and many[other]["preferences"]["known"] is False
    bad = client.put(path, json={"channels": ["fax"]}, headers=people["ann"])
    assert bad.status_code == 422 and "'fax' is not one of" in bad.json()["detail"]
    long = client.put(path, json={"brands": ["x" * 101]}, headers=people["ann"])
    assert long.status_code == 422 and "brands: item 1" in long.json()["detail"]
    # Roles and the agent's book.
    assert client.put(path, json={}, headers=people["analyst"]).status_code == 403
    refused = client.put(f"/api/v1/customers/{other}/preferences", json={},
                         headers=people["ann"])
    assert refused.status_code == 403
    assert client.get("/api/v1/customers/999999/preferences",
                      headers=people["boss"]).status_code == 404


def test_imported_attribute_is_shown_until_edited_and_erasure_forgets(
        client: TestClient, people: dict[str, Any], sqlite_engine: Engine) -> None:
    customer_id = people["ids"][1]
    with session_scope(sqlite_engine) as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        customer.attributes = {"preferences": "tea; jazz;"}
    path = f"/api/v1/customers/{customer_id}/preferences"
    imported = client.get(path, headers=people["boss"]).json()
    assert (imported["source"], imported["imported"]) == ("imported", ["tea", "jazz"])
    client.put(path, json={"notes": "green tea"}, headers=people["boss"])
    assert client.get(path, headers=people["boss"]).json()["source"] == "edited"
    assert client.post(f"/api/v1/privacy/customers/{customer_id}/erase",
                       headers=people["boss"]).status_code == 200
    assert client.get(path, headers=people["boss"]).json()["source"] == "none"
    assert client.put(path, json={"notes": "x"}, headers=people["boss"]).status_code == 409
