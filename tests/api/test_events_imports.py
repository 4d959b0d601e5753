"""Event ingestion (idempotent batches) and file imports over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from kithkin.database.core import session_scope
from kithkin.interactions.models import Interaction
from kithkin.transactions.models import Transaction
from kithkin.users.models import Role

Bearer = Callable[[str], dict[str, str]]


@pytest.fixture
def manager(keys: dict[Role, str]) -> dict[str, str]:
    return {"X-API-Key": keys[Role.MANAGER]}


def interaction(n: int, customer: str = "c0") -> dict[str, Any]:
    return {"source": "web", "external_id": f"evt-{n}", "customer_external_id": customer,
            "customer_source": "shop", "occurred_at": f"2024-02-{1 + n % 28:02d}T10:00:00Z",
            "direction": "inbound", "kind": "inquiry", "channel": "web"}


def count(engine: Engine, model: type[Interaction] | type[Transaction]) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_batch_sent_twice_stores_each_event_once(
        client: TestClient, manager: dict[str, str], sqlite_engine: Engine,
        add_customers: Callable[..., list[int]]) -> None:
    add_customers(3)
    records = [interaction(n, customer=f"c{n % 3}") for n in range(250)]
    records.append(interaction(999, customer="nobody"))
    first = client.post("/api/v1/events/batch", headers=manager,
                        json={"kind": "interactions", "records": records})
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["received"], body["inserted"], body["rejected"]) == (251, 250, 1)
    assert body["rejects"][0]["row"] == 251 and body["rejects"][0]["reason"]
    again = client.post("/api/v1/events/batch", headers=manager,
                        json={"kind": "interactions", "records": records}).json()
    assert again["inserted"] == 0 and again["accepted"] == 250
    assert count(sqlite_engine, Interaction) == 250


def test_single_events_and_their_errors(client: TestClient, manager: dict[str, str],
                                        keys: dict[Role, str], bearer: Bearer,
                                        sqlite_engine: Engine,
                                        add_customers: Callable[..., list[int]]) -> None:
    add_customers(1)
    order = {"source": "shop", "order_id": "o-1", "customer_external_id": "c0",
             "ordered_at": "2024-03-01T12:00:00Z", "amount": "19.90"}
    for _ in range(2):
        response = client.post("/api/v1/events", headers=manager,
                               json={"kind": "transactions", "record": order})
        assert response.status_code == 200, response.text
    assert count(sqlite_engine, Transaction) == 1
    bad = client.post("/api/v1/events", headers=manager,
                      json={"kind": "interactions", "record": interaction(1, "ghost")})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "customer_external_id"
    # Events may name any customer, so agents (who see only their own) log interactions
    # through POST /interactions instead; analysts write nothing.
    agent = bearer(keys[Role.AGENT])
    for kind, record in (("interactions", interaction(2)), ("transactions", order)):
        refused = client.post("/api/v1/events", headers=agent,
                              json={"kind": kind, "record": record})
        assert refused.status_code == 403, kind
    assert client.post("/api/v1/events/batch", headers=bearer(keys[Role.ANALYST]),
                       json={"kind": "interactions", "records": [interaction(3)]}
                       ).status_code == 403
    too_many = client.post("/api/v1/events/batch", headers=manager,
                           json={"kind": "interactions", "records": [{}] * 10_001})
    assert too_many.status_code == 422
    unknown_kind = client.post("/api/v1/events", headers=manager,
                               json={"kind": "customers", "record": {}})
    assert unknown_kind.status_code == 422


def wait_for(client: TestClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(url, headers=headers).json()
        if job["status"] not in ("pending", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"import {url} did not finish")


def test_upload_runs_in_background_and_reports_rejects(
        client: TestClient, manager: dict[str, str], keys: dict[Role, str],
        bearer: Bearer, sqlite_engine: Engine) -> None:
    lines = ["source,external_id,first_name,email"]
    lines += [f"shop,u{n},Name{n},u{n}@example.com" for n in range(40)]
    lines += ["shop,,Nameless,bad@example.com"]  # missing external id -> reject
    content = ("\n".join(lines) + "\n").encode()
    started = client.post("/api/v1/imports", headers=manager, data={"kind": "customers"},
                          files={"file": ("people.csv", content, "text/csv")})
    assert started.status_code == 202, started.text
    job = wait_for(client, started.json()["status_url"], manager)
    assert job["status"] == "succeeded", job
    assert (job["rows_read"], job["rows_written"], job["rows_rejected"]) == (41, 40, 1)
    rejects = client.get(f"/api/v1/imports/{job['id']}/rejects", headers=manager).json()
    assert len(rejects) == 1 and rejects[0]["field"] == "external_id"
    as_csv = client.get(f"/api/v1/imports/{job['id']}/rejects", params={"format": "csv"},
                        headers=manager)
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "Nameless" in as_csv.text
    listed = client.get("/api/v1/imports", headers=bearer(keys[Role.ANALYST])).json()
    assert [j["id"] for j in listed] == [job["id"]]
    assert client.post("/api/v1/imports", headers=bearer(keys[Role.AGENT]),
                       data={"kind": "customers"},
                       files={"file": ("p.csv", content, "text/csv")}).status_code == 403


def test_upload_errors_before_start_are_422(client: TestClient,
                                            manager: dict[str, str]) -> None:
    missing_column = client.post("/api/v1/imports", headers=manager,
                                 data={"kind": "transactions"},
                                 files={"file": ("t.csv", b"source,order_id\nshop,1\n")})
    assert missing_column.status_code == 422
    assert "customer_external_id" in missing_column.json()["detail"] or \
        "ordered_at" in missing_column.json()["detail"]
    wrong_type = client.post("/api/v1/imports", headers=manager, data={"kind": "customers"},
                             files={"file": ("t.exe", b"MZ")})
    assert wrong_type.status_code == 422 and wrong_type.json()["errors"][0]["field"] == "file"


def test_cookie_session_uploads_need_the_csrf_token(client: TestClient,
                                                    make_user: Callable[..., Any],
                                                    password: str) -> None:
    make_user(Role.MANAGER)
    assert client.post("/api/v1/auth/login", json={"email": "manager@example.com",
                                                    "password": password}).status_code == 200
    files = {"file": ("c.csv", b"source,external_id\nshop,z1\n", "text/csv")}
    refused = client.post("/api/v1/imports", data={"kind": "customers"}, files=files)
    assert refused.status_code == 403
    token = client.get("/api/v1/auth/csrf").json()["csrf_token"]
    accepted = client.post("/api/v1/imports", data={"kind": "customers", "csrf_token": token},
                           files=files)
    assert accepted.status_code == 202, accepted.text
    assert wait_for(client, accepted.json()["status_url"], {})["status"] == "succeeded"


def test_upload_with_column_mapping(client: TestClient, manager: dict[str, str],
                                    sqlite_engine: Engine) -> None:
    content = b"origin,Customer Ref,Given name\nshop,m1,Ann\nshop,m2,Bob\n"
    started = client.post("/api/v1/imports", headers=manager,
                          data={"kind": "customers",
                                "map": ["origin=source", "Customer Ref=external_id",
                                        "Given name=first_name"]},
                          files={"file": ("mapped.csv", content, "text/csv")})
    assert started.status_code == 202, started.text
    job = wait_for(client, started.json()["status_url"], manager)
    assert (job["status"], job["rows_written"]) == ("succeeded", 2)
    names = client.get("/api/v1/customers", params={"q": "m1"}, headers=manager).json()
    assert [c["first_name"] for c in names["items"]] == ["Ann"]
