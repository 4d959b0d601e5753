"""/privacy: consent history and recording, consenting customers, the export in JSON and
HTML, and erasure, with the roles each allows."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from kithkin.users.models import Role
from tests.api.conftest import AddCustomers, AssignCustomers


def test_consents_record_history_and_consenting(
        client: TestClient, keys: dict[Role, str], bearer: Callable[[str], dict[str, str]],
        add_customers: AddCustomers, assign_customers: AssignCustomers) -> None:
    first, second = add_customers(2)
    agent, analyst = bearer(keys[Role.AGENT]), bearer(keys[Role.ANALYST])
    assign_customers("agent@example.com", [first])
    url = f"/api/v1/privacy/customers/{first}/consents"
    granted = client.post(url, headers=agent, json={
        "channel": "email", "status": "granted", "source": "staff",
        "wording": "Offers by e-mail", "evidence": "call 12"})
    assert granted.status_code == 201, granted.text
    assert granted.json()["staff_user_id"] is not None
    withdrawn = client.post(url, headers=agent, json={"channel": "email",
                                                      "status": "opted_out"})
    assert withdrawn.json()["source"] == "api" and withdrawn.json()["staff_user_id"] is None
    history = client.get(url, headers=agent).json()
    assert [e["status"] for e in history["events"]] == ["opted_out", "granted"]
    assert [(c["channel"], c["purpose"], c["status"]) for c in history["current"]] == [
        ("email", "marketing", "opted_out")]
    # Not the agent's customer; analysts read but do not write.
    other = f"/api/v1/privacy/customers/{second}/consents"
    assert client.get(other, headers=agent).status_code in (403, 404)
    assert client.post(other, headers=analyst, json={"channel": "sms",
                                                     "status": "granted"}).status_code == 403
    bad = client.post(url, headers=agent, json={"channel": "fax", "status": "granted"})
    assert bad.status_code == 422
    client.post(other, headers=bearer(keys[Role.MANAGER]),
                json={"channel": "sms", "purpose": "service", "status": "granted"})
    listed = client.get("/api/v1/privacy/consenting?channel=sms&purpose=service",
                        headers=analyst).json()
    assert listed["customer_ids"] == [second]
    assert client.get("/api/v1/privacy/consenting?channel=sms&purpose=service",
                      headers=agent).json()["customer_ids"] == []  # not in their book


def test_export_json_and_html_then_erase(
        client: TestClient, keys: dict[Role, str], bearer: Callable[[str], dict[str, str]],
        add_customers: AddCustomers) -> None:
    (customer,) = add_customers(1, start=7)
    manager = bearer(keys[Role.MANAGER])
    exported = client.get(f"/api/v1/privacy/customers/{customer}/export", headers=manager)
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    assert exported.json()["profile"][0]["email"] == "person7@example.com"
    html = client.get(f"/api/v1/privacy/customers/{customer}/export?format=html",
                      headers=manager)
    assert html.headers["content-type"].startswith("text/html")
    assert "person7@example.com" in html.text
    assert client.get(f"/api/v1/privacy/customers/{customer}/export",
                      headers=bearer(keys[Role.ANALYST])).status_code == 403
    assert client.get("/api/v1/privacy/customers/999/export",
                      headers=manager).status_code == 404
    erased = client.post(f"/api/v1/privacy/customers/{customer}/erase", headers=manager)
    assert erased.status_code == 200
    assert erased.json()["actor"] == "manager@example.com"
    assert "person7" not in client.get(f"/api/v1/privacy/customers/{customer}/export",
                                       headers=manager).text
    refused = client.post(f"/api/v1/privacy/customers/{customer}/consents", headers=manager,
                          json={"channel": "email", "status": "granted"})
    assert refused.status_code == 422 and "erased" in refused.json()["detail"]
