"""Every mutating API route leaves an audit row: the route list comes from the app's
OpenAPI document, so a route added later is walked (and must be made to succeed here)
without anyone remembering this test.

Payloads are built from the request schema (required fields, first enum value, the
format's example); the few routes whose minimal valid request needs particular values
(existing rows, files, other credentials) have an entry in EXAMPLES, and path ids are
made fresh per call by PATH_FACTORIES (by parameter name). A route that does not answer
2xx fails the test, naming the table to extend.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from kithkin.audit.models import AuditKind, AuditLog
from kithkin.config import get_settings
from kithkin.database.core import session_scope
from kithkin.identity.models import DuplicateCandidate
from kithkin.relationships.models import SegmentLevel
from kithkin.users import service as user_service
from kithkin.users.models import Role
from tests.api.conftest import PASSWORD, AddCustomers, MakeUser

MUTATING = ("post", "put", "patch", "delete")
_serial = itertools.count(1)


@dataclass
class Call:
    path_params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    data: dict[str, str] | None = None
    files: dict[str, Any] | None = None
    headers: dict[str, str] | None = None  # None: the admin's API key
    anonymous: bool = False


@dataclass
class World:
    client: TestClient
    engine: Engine
    admin_headers: dict[str, str]
    add_customers: AddCustomers
    make_user: MakeUser

    def customer(self) -> int:
        n = next(_serial) * 10
        return self.add_customers(1, start=1000 + n)[0]

    def user(self) -> int:
        return self.make_user(Role.AGENT, email=f"walk{next(_serial)}@example.com")[0]

    def user_with_key(self) -> tuple[int, str]:
        return self.make_user(Role.AGENT, email=f"walk{next(_serial)}@example.com")

    def api_key(self) -> int:
        with session_scope(self.engine) as session:
            row, _ = user_service.create_api_key(
                session=session, settings=get_settings(), user_id=self.user(), name="walk",
                scopes=["*"])
            return row.id

    def candidate(self) -> int:
        left, right = sorted((self.customer(), self.customer()))
        with session_scope(self.engine) as session:
            row = DuplicateCandidate(customer_id_l=left, customer_id_r=right,
                                     match_probability=0.9, match_weight=3.0, weights={})
            session.add(row)
            session.flush()
            return row.id

    def segment(self) -> str:
        """A segment level row of kind value_tier (what a refresh would compute)."""
        name = f"walk{next(_serial)}"
        with session_scope(self.engine) as session:
            session.add(SegmentLevel(
                kind="value_tier", segment=name, as_of=date(2024, 1, 1), customers=10,
                revenue=1000.0, margin=250.0, margin_rate=0.25, margin_known_share=0.0,
                size_class="small", margin_class="high", recommended_level="reactive"))
        return name

    def merge(self) -> int:
        response = self.client.post("/api/v1/identity/merges", headers=self.admin_headers,
                                    json={"survivor_id": self.customer(),
                                          "merged_id": self.customer()})
        assert response.status_code == 200, response.text
        return int(response.json()["id"])


    def task(self) -> int:
        from kithkin.tasks import service as task_service

        with session_scope(self.engine) as session:
            return task_service.create_task(session=session, title="walk",
                                            customer_id=self.customer()).id

    def idea(self) -> int:
        from kithkin.ideas import service as idea_service

        with session_scope(self.engine) as session:
            return idea_service.submit(session=session, title="walk", body="an idea",
                                       customer_id=self.customer()).id

    def complaint(self) -> int:
        from kithkin.interactions.models import Interaction

        with session_scope(self.engine) as session:
            row = Interaction(source="walk", external_id=f"walk-c{next(_serial)}",
                              customer_id=self.customer(), kind="complaint",
                              direction="inbound", status="open",
                              occurred_at=datetime(2024, 3, 1, tzinfo=UTC))
            session.add(row)
            session.flush()
            return row.id

    def dead_message(self) -> int:
        from kithkin.outbox.models import Message

        with session_scope(self.engine) as session:
            row = Message(customer_id=self.customer(), channel="email", template="generic",
                          status="dead", idempotency_key=f"walk{next(_serial)}")
            session.add(row)
            session.flush()
            return row.id

    def exit_interview(self) -> int:
        response = self.client.post("/api/v1/retention/exit-interviews",
                                    headers=self.admin_headers, json={
                                        "customer_id": self.customer(),
                                        "text": "the price went up"})
        assert response.status_code in (200, 201), response.text
        return int(response.json()["id"])


# Path ids by parameter name: a fresh row per call, so destructive routes don't collide.
PATH_FACTORIES: dict[str, Callable[[World], Any]] = {
    "customer_id": World.customer,
    "user_id": World.user,
    "api_key_id": World.api_key,
    "candidate_id": World.candidate,
    "merge_id": World.merge,
    "kind": lambda _: "value_tier",
    "segment": World.segment,
    "task_id": World.task,
    "idea_id": World.idea,
    "complaint_id": World.complaint,
    "message_id": World.dead_message,
    "interview_id": World.exit_interview,
    "action": lambda _: "respond",
}


def _points(world: World) -> Call:
    customer = world.customer()
    given = world.client.post(f"/api/v1/customers/{customer}/loyalty/adjustments",
                              headers=world.admin_headers,
                              json={"points": 10, "reason": "walk"})
    assert given.status_code == 201, given.text
    return Call(path_params={"customer_id": customer}, json={"points": 5})


def _gold_member(world: World) -> Call:
    from kithkin.products.models import Product
    from kithkin.transactions.models import Transaction

    customer = world.customer()
    with session_scope(world.engine) as session:
        session.add(Transaction(source="walk", order_id=f"walk{next(_serial)}",
                                customer_id=customer, amount=5000.0,
                                ordered_at=datetime.now(UTC)))
        product = Product(sku=f"walk{next(_serial)}", name="Walk", list_price=9.5)
        session.add(product)
        session.flush()
        product_id = product.id
    return Call(path_params={"customer_id": customer}, json={"product_id": product_id})


def _link(world: World) -> Call:
    a, b = world.customer(), world.customer()
    made = world.client.post(f"/api/v1/customers/{a}/links", headers=world.admin_headers,
                             json={"other_customer_id": b, "kind": "household"})
    assert made.status_code == 201, made.text
    return Call(path_params={"customer_id": a, "link_id": made.json()["id"]})


def _playbook(world: World) -> Call:
    from importlib import resources

    text = resources.files("kithkin.playbooks").joinpath("builtin/reactive.toml").read_text()
    return Call(json={"text": text, "filename": f"walk{next(_serial)}.toml"})


def _event(world: World) -> dict[str, Any]:
    customer = world.customer()
    n = next(_serial)
    return {"source": "web", "external_id": f"walk-evt-{n}",
            "customer_external_id": f"c{customer_external(world, customer)}",
            "customer_source": "shop", "occurred_at": "2024-02-01T10:00:00Z",
            "direction": "inbound", "kind": "inquiry", "channel": "web"}


def customer_external(world: World, customer_id: int) -> str:
    from kithkin.customers.models import CustomerIdentifier

    with session_scope(world.engine) as session:
        external = session.scalar(select(CustomerIdentifier.external_id).where(
            CustomerIdentifier.customer_id == customer_id))
    return str(external)[1:]


def _own_password(world: World) -> Call:
    _, key = world.user_with_key()
    return Call(json={"current_password": PASSWORD, "new_password": "another long one"},
                headers={"X-API-Key": key})


def _override_delete(world: World) -> Call:
    segment = world.segment()
    put = world.client.put(f"/api/v1/relationships/levels/value_tier/{segment}/override",
                           headers=world.admin_headers, json={"level": "proactive"})
    assert put.status_code == 200, put.text
    return Call(path_params={"segment": segment})


# Routes whose minimal valid request the schema alone cannot give.
EXAMPLES: dict[tuple[str, str], Callable[[World], Call]] = {
    ("POST", "/api/v1/auth/login"): lambda w: Call(
        json={"email": "admin@example.com", "password": PASSWORD}, anonymous=True),
    ("POST", "/api/v1/auth/logout"): lambda w: Call(anonymous=True),
    ("POST", "/api/v1/auth/password"): _own_password,
    ("PATCH", "/api/v1/users/{user_id}"): lambda w: Call(json={"is_active": False}),
    ("POST", "/api/v1/customers/assign"): lambda w: Call(json={
        "customer_ids": [w.customer()], "account_manager_id": w.user()}),
    ("PATCH", "/api/v1/customers/{customer_id}"): lambda w: Call(
        json={"first_name": "Changed"}),
    ("POST", "/api/v1/interactions"): lambda w: Call(json={
        "customer_id": w.customer(), "occurred_at": "2024-03-01T10:00:00Z",
        "kind": "inquiry", "direction": "inbound", "text": "hello"}),
    ("POST", "/api/v1/identity/merges"): lambda w: Call(json={
        "survivor_id": w.customer(), "merged_id": w.customer()}),
    ("DELETE", "/api/v1/relationships/levels/{kind}/{segment}/override"): _override_delete,
    ("POST", "/api/v1/imports"): lambda w: Call(
        data={"kind": "customers"},
        files={"file": ("walk.csv", b"source,external_id,first_name\nshop,w1,Walk\n",
                        "text/csv")}),
    ("POST", "/api/v1/events"): lambda w: Call(json={"kind": "interactions",
                                                      "record": _event(w)}),
    ("POST", "/api/v1/events/batch"): lambda w: Call(json={"kind": "interactions",
                                                            "records": [_event(w)]}),
    ("POST", "/api/v1/customers/{customer_id}/loyalty/redemptions"): _points,
    ("POST", "/api/v1/customers/{customer_id}/loyalty/price-locks"): _gold_member,
    ("POST", "/api/v1/ideas/{idea_id}/status"): lambda w: Call(
        path_params={"idea_id": w.idea()}, json={"status": "under_review"}),
    ("DELETE", "/api/v1/customers/{customer_id}/links/{link_id}"): _link,
    ("PATCH", "/api/v1/retention/exit-interviews/{interview_id}"): lambda w: Call(
        path_params={"interview_id": w.exit_interview()},
        json={"reason_category": None, "defector_type": "price"}),
    ("POST", "/api/v1/tasks/{task_id}/snooze"): lambda w: Call(
        path_params={"task_id": w.task()}, json={"until": "2999-01-01T00:00:00Z"}),
    ("POST", "/api/v1/playbooks/install"): _playbook,
    ("PUT", "/api/v1/playbooks/customers/{customer_id}/level"): lambda w: Call(
        path_params={"customer_id": w.customer()},
        json={"level": "reactive", "reason": "walk"}),
    ("POST", "/api/v1/lists/{list_id}/actions"): lambda w: Call(
        path_params={"list_id": _list(w)},
        json={"params": {"action": "add_tag", "tag": "walk"}}),
}


def _list(world: World) -> int:
    made = world.client.post("/api/v1/lists", headers=world.admin_headers,
                             json={"name": f"walk{next(_serial)}", "spec": {}})
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def example_value(name: str, schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """The simplest value the schema accepts (required fields only)."""
    schema = _resolve(schema, components)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return example_value(name, options[0], components) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {key: example_value(key, _resolve(prop, components), components)
                for key, prop in schema.get("properties", {}).items()
                if key in schema.get("required", [])}
    if kind == "array":
        count = schema.get("minItems", 0)
        return [example_value(name, schema.get("items", {}), components)] * count
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    fmt = schema.get("format")
    if fmt == "date":
        return "2024-01-02"
    if fmt == "date-time":
        return "2024-01-02T10:00:00Z"
    if "email" in name:
        return f"walk{next(_serial)}@example.com"
    return "x" * max(1, int(schema.get("minLength", 1)))


def mutating_routes(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, operation)
            for path, operations in openapi["paths"].items()
            for method, operation in operations.items() if method in MUTATING]


def build_call(world: World, method: str, path: str, operation: dict[str, Any],
               components: dict[str, Any]) -> Call:
    factory = EXAMPLES.get((method, path))
    call = factory(world) if factory else Call()
    for parameter in operation.get("parameters", []):
        name = parameter["name"]
        if parameter["in"] == "path" and name not in call.path_params:
            make = PATH_FACTORIES.get(name)
            call.path_params[name] = make(world) if make else 1
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None and call.json is None and factory is None:
        call.json = example_value("body", body["schema"], components)
    return call


def request_rows(engine: Engine, method: str, path: str) -> list[AuditLog]:
    with session_scope(engine) as session:
        return list(session.scalars(select(AuditLog).where(
            AuditLog.kind == AuditKind.REQUEST, AuditLog.method == method,
            AuditLog.path == path).order_by(AuditLog.id)))


def test_every_mutating_route_succeeds_and_leaves_an_audit_row(
        client: TestClient, sqlite_engine: Engine, make_user: MakeUser,
        add_customers: AddCustomers) -> None:
    admin_id, admin_key = make_user(Role.ADMIN, email="admin@example.com")
    admin_headers = {"X-API-Key": admin_key}
    world = World(client, sqlite_engine, admin_headers, add_customers, make_user)
    openapi = client.app.openapi()  # type: ignore[attr-defined]
    components = openapi.get("components", {}).get("schemas", {})
    routes = mutating_routes(openapi)
    assert len(routes) >= 20, "the schema lost its mutating routes"
    failures: list[str] = []
    for method, path, operation in routes:
        call = build_call(world, method, path, operation, components)
        concrete = path.format(**call.path_params)
        before = len(request_rows(sqlite_engine, method, concrete))
        headers = {} if call.anonymous else (call.headers or admin_headers)
        response = client.request(method, concrete, headers=headers, json=call.json,
                                  data=call.data, files=call.files)
        if not 200 <= response.status_code < 300:
            failures.append(f"{method} {path}: {response.status_code} {response.text[:200]} "
                            "(give it an entry in EXAMPLES or PATH_FACTORIES)")
            continue
        rows = request_rows(sqlite_engine, method, concrete)
        if len(rows) != before + 1:
            failures.append(f"{method} {path}: no audit row")
            continue
        row = rows[-1]
        assert row.status == response.status_code, (path, row.status)
        assert row.ip == "testclient", (path, row.ip)
        assert row.request_id, path
        if not call.anonymous:
            assert row.actor_user_id is not None and row.actor_label, (path, row.actor_label)
            if call.headers is None:
                assert (row.actor_user_id, row.actor_label) == (admin_id, "admin@example.com")
                assert row.api_key_id is not None
    assert not failures, "\n".join(failures)
