"""The API contract: each class of disagreement between the OpenAPI document and the
server that schemathesis found (issue 11, item 8), pinned by a direct test."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kithkin.api.app import create_app
from kithkin.api.problems import PROBLEM_MEDIA_TYPE, PROBLEM_STATUSES
from kithkin.fields import MAX_ID
from kithkin.users.models import Role
from tests.api.conftest import AddCustomers

Headers = dict[str, str]
BEYOND = [MAX_ID + 1, 2**63 - 1, 2**63, 2**64 + 7, 10**30]


@pytest.fixture
def full_app(sqlite_engine: Any) -> FastAPI:
    return create_app()


@pytest.fixture
def full_client(full_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(full_app) as client:
        yield client


@pytest.fixture
def admin(keys: dict[Role, str]) -> Headers:
    return {"Authorization": f"Bearer {keys[Role.ADMIN]}"}


def _operations(app: FastAPI) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def _id_parameters(operation: dict[str, Any], where: str) -> list[str]:
    return [p["name"] for p in operation.get("parameters", [])
            if (p["in"] == where and p["schema"].get("type") == "integer")
            or (p["in"] == where and {"type": "integer"} in p["schema"].get("anyOf", []))]


# --- ids beyond what the store holds -----------------------------------------------


def test_every_id_route_answers_422_for_ids_out_of_range(full_client: TestClient,
                                                         admin: Headers) -> None:
    """21 routes answered 500 (OverflowError in the SQLite driver) for ids >= 2**63."""
    walked = 0
    for method, path, operation in _operations(full_client.app):  # type: ignore[arg-type]
        names = _id_parameters(operation, "path")
        if not names:
            continue
        walked += 1
        for value in [0, -1, *BEYOND]:
            concrete = re.sub(r"\{\w+\}", str(value), path)  # id routes have only ids
            response = full_client.request(method, concrete, headers=admin, json={})
            expected = {404} if value == -1 else {422}  # "-1" is no id: no route matches
            assert response.status_code in expected, (method, concrete, response.text[:300])
            assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert walked >= 19  # with the 2 query ids below: the 21 the fuzzer broke


@pytest.mark.parametrize(("path", "parameter"), [
    ("/api/v1/customers", "account_manager_id"),
    ("/api/v1/transactions", "customer_id"),
    ("/api/v1/interactions", "customer_id"),
    ("/api/v1/memberships", "customer_id"),
    ("/api/v1/api-keys", "user_id"),
])
def test_query_ids_out_of_range_are_422(client: TestClient, admin: Headers, path: str,
                                        parameter: str) -> None:
    for value in BEYOND:
        response = client.get(path, params={parameter: value}, headers=admin)
        assert response.status_code == 422, (path, value, response.text[:300])
        assert response.json()["errors"][0]["field"] == f"query.{parameter}"
    assert client.get(path, params={parameter: MAX_ID}, headers=admin).status_code == 200


def test_body_ids_out_of_range_are_422(client: TestClient, admin: Headers) -> None:
    for body_path, body in [
        ("/api/v1/customers/assign", {"customer_ids": [2**63], "account_manager_id": None}),
        ("/api/v1/customers/assign", {"customer_ids": [1], "account_manager_id": 2**64}),
        ("/api/v1/identity/merges", {"survivor_id": 1, "merged_id": 2**63}),
        ("/api/v1/api-keys", {"name": "k", "user_id": 2**63}),
    ]:
        response = client.post(body_path, json=body, headers=admin)
        assert response.status_code == 422, (body_path, body, response.text[:300])


def test_a_forged_cursor_with_a_huge_id_is_422(client: TestClient, admin: Headers,
                                               add_customers: AddCustomers) -> None:
    add_customers(2)
    for forged in ([1, 2**63], [2**70, 1], [True, 1]):
        cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
        response = client.get("/api/v1/customers", params={"after": cursor}, headers=admin)
        assert response.status_code == 422, (forged, response.text[:300])
        assert response.json()["errors"][0]["field"] == "after"


# --- event values beyond 64 bits ---------------------------------------------------


def test_event_integers_beyond_int64_are_422_naming_the_field(client: TestClient,
                                                              admin: Headers) -> None:
    """pyarrow raised OverflowError (500) on a JSON integer above int64."""
    record = {"source": "web", "external_id": "e1", "customer_external_id": "c0",
              "customer_source": "shop", "occurred_at": "2024-02-01T10:00:00Z",
              "direction": "inbound", "kind": "inquiry", "score": 2**64,
              "attributes": {"nested": [1, -(2**63) - 1]}}
    single = client.post("/api/v1/events", headers=admin,
                         json={"kind": "interactions", "record": record})
    assert single.status_code == 422, single.text
    [error] = single.json()["errors"]
    assert error["field"] == "body.record"
    assert error["message"].endswith(
        "score, attributes.nested[1]: integer outside the signed 64-bit range")
    batch = client.post("/api/v1/events/batch", headers=admin,
                        json={"kind": "interactions", "records": [record]})
    assert batch.status_code == 422, batch.text
    assert batch.json()["errors"][0]["field"].startswith("body.records.0")
    nested = {**record, "score": 1, "attributes": {"nested": [1, 2**63]}}
    response = client.post("/api/v1/events", headers=admin,
                           json={"kind": "interactions", "record": nested})
    assert response.status_code == 422
    assert "attributes.nested[1]" in response.json()["errors"][0]["message"]


# --- static paths are not ids; wrong methods are 405 with a complete Allow ----------


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("GET", "/api/v1/identity/merges", "POST"),
    ("PATCH", "/api/v1/customers/assign", "POST"),
    ("DELETE", "/api/v1/customers/1", "GET, PATCH"),
    ("HEAD", "/api/v1/customers/1", "GET, PATCH"),  # API routes answer no HEAD
    ("PUT", "/api/v1/customers", "GET, POST"),
    ("GET", "/api/v1/api-keys/1/revoke", "POST"),
])
def test_wrong_methods_are_405_with_every_allowed_method(
        full_client: TestClient, admin: Headers, method: str, path: str, allow: str) -> None:
    response = full_client.request(method, path, headers=admin)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == allow
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE


def test_every_integer_path_parameter_uses_the_int_converter(full_app: FastAPI) -> None:
    """So /customers/assign and /duplicates/merges can never be read as an id."""
    documented = {path: _id_parameters(op, "path") for _, path, op in _operations(full_app)}
    served = {}
    for route in full_app.router.routes:  # the included routers' effective routes
        for context in getattr(route, "effective_route_contexts", lambda: [])():
            served[context.path_format] = context.path
    checked = 0
    for path, names in documented.items():
        for name in names:
            assert "{" + name + ":int}" in served[path], (path, name)
            checked += 1
    assert checked >= 18  # paths (GET and PATCH share /customers/{customer_id})


# --- the document describes every response -----------------------------------------


def test_every_operation_documents_its_problem_responses(full_app: FastAPI) -> None:
    schema = full_app.openapi()
    assert "ProblemDetails" in schema["components"]["schemas"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for method, path, operation in _operations(full_app):
        for status in PROBLEM_STATUSES:
            if path == "/readyz" and status == 503:
                continue  # the probe documents its own JSON body
            content = operation["responses"][str(status)]["content"]
            assert list(content) == [PROBLEM_MEDIA_TYPE], (method, path, status)
    ready = schema["paths"]["/readyz"]["get"]["responses"]["503"]["content"]
    assert list(ready) == ["application/json"]


def test_security_is_documented_on_protected_operations_only(full_app: FastAPI) -> None:
    schema = full_app.openapi()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["apiKeyBearer"] == {"type": "http", "scheme": "bearer",
                                       "description": schemes["apiKeyBearer"]["description"]}
    assert schemes["apiKeyHeader"]["name"] == "X-API-Key"
    assert schemes["sessionCookie"] == {**schemes["sessionCookie"], "in": "cookie",
                                        "name": "kithkin_session"}
    public = {("GET", "/healthz"), ("GET", "/readyz"), ("POST", "/api/v1/auth/login"),
              ("POST", "/api/v1/auth/logout")}
    for method, path, operation in _operations(full_app):
        documented = {name for requirement in operation.get("security", [])
                      for name in requirement}
        expected = set() if (method, path) in public else set(schemes)
        assert documented == expected, (method, path)


def test_problem_bodies_match_the_documented_schema(client: TestClient,
                                                    admin: Headers) -> None:
    fields = set(client.app.openapi()["components"]["schemas"]  # type: ignore[attr-defined]
                 ["ProblemDetails"]["properties"])
    for response in (client.get("/api/v1/customers/5", headers=admin),
                     client.get("/api/v1/customers", params={"limit": 0}, headers=admin),
                     client.get("/api/v1/customers")):
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert set(response.json()) <= fields
        assert {"type", "title", "status", "detail", "instance"} <= set(response.json())


# --- validation is exactly as loose as the document --------------------------------


@pytest.mark.parametrize("user_id", [False, True, "1", 1.5])
def test_body_integers_refuse_booleans_and_strings(client: TestClient, admin: Headers,
                                                   user_id: Any) -> None:
    """`user_id: false` created a key for user 0 ... owned by the caller."""
    response = client.post("/api/v1/api-keys", json={"name": "k", "user_id": user_id},
                           headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "body.user_id"


@pytest.mark.parametrize("body", [
    {"customer_ids": [True], "account_manager_id": None},
    {"customer_ids": ["1"], "account_manager_id": None},
])
def test_assignment_ids_are_strict(client: TestClient, admin: Headers,
                                   body: dict[str, Any]) -> None:
    assert client.post("/api/v1/customers/assign", json=body,
                       headers=admin).status_code == 422


@pytest.mark.parametrize("as_of", ["0", "1700000000", "2024-1-1", "20240101", "yesterday"])
def test_dates_are_iso_dates_only(client: TestClient, admin: Headers, as_of: str) -> None:
    """`as_of=0` was read as 1970-01-01."""
    for path in ("/api/v1/analytics/rfm", "/api/v1/analytics/clv",
                 "/api/v1/analytics/metrics", "/api/v1/analytics/cohorts",
                 f"/api/v1/analytics/runs/{as_of}"):
        params = {} if path.endswith(as_of) else {"as_of": as_of}
        response = client.get(path, params=params, headers=admin)
        assert response.status_code == 422, (path, as_of, response.text[:200])
        assert "ISO 8601 date" in response.json()["errors"][0]["message"]
    assert client.get("/api/v1/analytics/cohorts", params={"as_of": "2024-01-31"},
                      headers=admin).status_code == 200


@pytest.mark.parametrize("occurred_at", [0, 1700000000, "1700000000", True])
def test_body_datetimes_are_iso_strings_only(client: TestClient, admin: Headers,
                                             add_customers: AddCustomers,
                                             occurred_at: Any) -> None:
    [customer] = add_customers(1)
    body = {"customer_id": customer, "occurred_at": occurred_at, "kind": "inquiry",
            "direction": "inbound"}
    response = client.post("/api/v1/interactions", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "body.occurred_at"
    body["occurred_at"] = "2024-05-01T10:00:00+02:00"
    assert client.post("/api/v1/interactions", json=body, headers=admin).status_code == 201


LISTS = ["/api/v1/customers", "/api/v1/prospects", "/api/v1/products",
         "/api/v1/transactions", "/api/v1/interactions", "/api/v1/memberships",
         "/api/v1/identity/duplicates", "/api/v1/analytics/metrics"]


@pytest.mark.parametrize("path", LISTS)
def test_an_empty_cursor_is_the_first_page(client: TestClient, admin: Headers,
                                           add_customers: AddCustomers, path: str) -> None:
    """`?after=` answered 422 on 8 lists while the document allows any string."""
    add_customers(3)
    empty = client.get(path, params={"after": "", "limit": 2}, headers=admin)
    absent = client.get(path, params={"limit": 2}, headers=admin)
    assert empty.status_code == absent.status_code, (path, empty.text[:200])
    if absent.status_code == 200:
        assert empty.json() == absent.json()


# --- credentials before input ------------------------------------------------------


@pytest.mark.parametrize("body", [{"customer_ids": "not a list"}, {"kind": 5}, {}])
def test_anonymous_requests_with_invalid_bodies_are_401(client: TestClient,
                                                        body: dict[str, Any]) -> None:
    for path in ("/api/v1/customers/assign", "/api/v1/events", "/api/v1/interactions"):
        response = client.post(path, json=body)
        assert response.status_code == 401, (path, response.text[:200])


# FastAPI parses a JSON body before any dependency runs: the request-limits middleware
# (kithkin.api.limits) authenticates before the body is read, so this is a 401.
def test_anonymous_requests_with_malformed_json_are_401(client: TestClient) -> None:
    for path in ("/api/v1/customers/assign", "/api/v1/events", "/api/v1/interactions"):
        response = client.post(path, content=b"\x00{", headers={
            "Content-Type": "application/json"})
        assert response.status_code == 401, (path, response.text[:200])


def test_dashboard_id_pages_do_not_overflow(full_client: TestClient,
                                            make_user: Callable[..., tuple[int, str]],
                                            password: str) -> None:
    make_user(Role.ADMIN, email="boss@example.com")
    login = full_client.post("/api/v1/auth/login",
                             json={"email": "boss@example.com", "password": password})
    assert login.status_code == 200
    for path in (f"/customers/{2**63}", f"/duplicates/{2**64}", f"/imports/{2**63}"):
        response = full_client.get(path, headers={"Accept": "text/html"})
        assert response.status_code in (404, 422), (path, response.status_code)
