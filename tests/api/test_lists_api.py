"""/api/v1/lists and /api/v1/customers/{id}/tags: roles enforced on the server, agents
limited to their book, the CSV streamed, bulk actions recorded and repeatable; and the
`kithkin lists` and `kithkin tags` commands on the same store."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from kithkin.cli.main import app as cli
from kithkin.customers.models import Consent, Customer
from kithkin.database.core import session_scope
from kithkin.tags.models import CustomerTag
from kithkin.tasks.models import Task
from kithkin.users.models import Role

Headers = Callable[[str], dict[str, str]]
runner = CliRunner()


def _store(engine: Engine, add_customers: Callable[..., list[int]], agent_id: int
           ) -> list[int]:
    ids = add_customers(6)
    with session_scope(engine) as session:
        for n, cid in enumerate(ids):
            customer = session.get(Customer, cid)
            assert customer is not None
            customer.account_manager_id = agent_id if n < 2 else None
            session.add(Consent(customer_id=cid, channel="email",
                                status="granted" if n % 2 == 0 else "denied"))
    return ids


def test_roles_scope_export_and_bulk_actions(
        client: TestClient, sqlite_engine: Engine, make_user: Any, bearer: Headers,
        add_customers: Callable[..., list[int]]) -> None:
    agent_id, agent = make_user(Role.AGENT)
    manager_id, manager = make_user(Role.MANAGER)
    _, analyst = make_user(Role.ANALYST)
    ids = _store(sqlite_engine, add_customers, agent_id)

    created = client.post("/api/v1/lists", headers=bearer(manager), json={
        "name": "France", "spec": {"country": "FR"}})
    assert created.status_code == 201, created.text
    list_id = created.json()["id"]
    assert created.json()["spec"]["version"] == 1
    refused = client.post("/api/v1/lists", headers=bearer(analyst), json={"name": "x"})
    assert refused.status_code == 403
    bad = client.post("/api/v1/lists", headers=bearer(manager), json={
        "name": "bad", "spec": {"clv_min": 9, "clv_max": 1}})
    assert bad.status_code == 422 and "clv_min" in bad.text
    clash = client.post("/api/v1/lists", headers=bearer(manager), json={"name": "France"})
    assert clash.status_code == 409

    assert client.get(f"/api/v1/lists/{list_id}/size",
                      headers=bearer(manager)).json()["size"] == 6
    assert client.get(f"/api/v1/lists/{list_id}/size",
                      headers=bearer(agent)).json()["size"] == 2  # their book
    preview = client.post("/api/v1/lists/size", headers=bearer(analyst),
                          json={"consent_channel": "email"})
    assert preview.json() == {"size": 3, "as_of": None}
    page = client.get(f"/api/v1/lists/{list_id}/members?limit=4", headers=bearer(manager))
    assert [i["id"] for i in page.json()["items"]] == ids[:4]
    rest = client.get(f"/api/v1/lists/{list_id}/members?limit=4&after="
                      f"{page.json()['next_cursor']}", headers=bearer(manager))
    assert [i["id"] for i in rest.json()["items"]] == ids[4:]

    exported = client.get(f"/api/v1/lists/{list_id}/export.csv?channel=email",
                          headers=bearer(analyst))
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [int(r["customer_id"]) for r in rows] == ids[0::2]
    agent_rows = list(csv.DictReader(io.StringIO(client.get(
        f"/api/v1/lists/{list_id}/export.csv", headers=bearer(agent)).text)))
    assert [int(r["customer_id"]) for r in agent_rows] == ids[:2]

    action = {"request_key": "campaign-1", "params": {
        "action": "create_tasks", "title": "Say hello", "owner_id": manager_id}}
    assert client.post(f"/api/v1/lists/{list_id}/actions", headers=bearer(agent),
                       json=action).status_code == 403  # agents: no bulk actions
    run = client.post(f"/api/v1/lists/{list_id}/actions", headers=bearer(manager),
                      json=action)
    assert run.status_code == 200, run.text
    assert (run.json()["affected"], run.json()["members"], run.json()["via"]) == (6, 6, "api")
    again = client.post(f"/api/v1/lists/{list_id}/actions", headers=bearer(manager),
                        json=action)
    assert again.json()["id"] == run.json()["id"]
    with session_scope(sqlite_engine) as session:
        owners = session.execute(select(Task.customer_id, Task.owner_id)
                                 .order_by(Task.customer_id)).all()
    # the account manager owns the task, owner_id stands in where there is none
    assert [o for _, o in owners] == [agent_id, agent_id] + [manager_id] * 4
    tagged = client.post(f"/api/v1/lists/{list_id}/actions", headers=bearer(manager),
                         json={"params": {"action": "add_tag", "tag": "FR 2026"}})
    assert tagged.json()["affected"] == 6
    history = client.get(f"/api/v1/lists/{list_id}/actions", headers=bearer(analyst))
    assert [r["action"] for r in history.json()] == ["add_tag", "create_tasks"]
    assert history.json()[1]["created_by_id"] == manager_id

    tags = client.get(f"/api/v1/customers/{ids[0]}/tags", headers=bearer(agent))
    assert tags.json()["tags"] == ["fr-2026"]
    assert client.get(f"/api/v1/customers/{ids[3]}/tags",
                      headers=bearer(agent)).status_code == 403  # not in their book
    added = client.post(f"/api/v1/customers/{ids[0]}/tags", headers=bearer(agent),
                        json={"tags": ["VIP", "vip "]})
    assert added.json()["tags"] == ["fr-2026", "vip"]
    assert client.post(f"/api/v1/customers/{ids[0]}/tags", headers=bearer(analyst),
                       json={"tags": ["x"]}).status_code == 403
    removed = client.delete(f"/api/v1/customers/{ids[0]}/tags/vip", headers=bearer(agent))
    assert removed.json()["tags"] == ["fr-2026"]
    counts = client.get("/api/v1/tags", headers=bearer(agent)).json()
    assert counts == [{"tag": "fr-2026", "customers": 2}]  # their book only

    # agents save lists of their own, and change only those
    own = client.post("/api/v1/lists", headers=bearer(agent), json={"name": "mine"})
    assert own.status_code == 201
    assert client.patch(f"/api/v1/lists/{list_id}", headers=bearer(agent),
                        json={"name": "renamed"}).status_code == 403
    assert client.delete(f"/api/v1/lists/{own.json()['id']}",
                         headers=bearer(agent)).status_code == 204
    assert client.get("/api/v1/lists/999", headers=bearer(agent)).status_code == 404


def test_cli_create_export_act_and_tags(sqlite_engine: Engine, tmp_path: Path,
                                        add_customers: Callable[..., list[int]]) -> None:
    ids = add_customers(4)
    added = runner.invoke(cli, ["tags", "add", str(ids[0]), "VIP", "newsletter"])
    assert added.exit_code == 0 and "vip" in added.output, added.output
    runner.invoke(cli, ["tags", "add", str(ids[1]), "vip"])
    made = runner.invoke(cli, ["lists", "create", "VIPs", "--tag", "vip"])
    assert made.exit_code == 0 and "2 customers" in made.output, made.output
    bad = runner.invoke(cli, ["lists", "create", "x", "--segment", "colour:red"])
    assert bad.exit_code == 1 and "segment_kind" in bad.output
    out = tmp_path / "vips.csv"
    exported = runner.invoke(cli, ["lists", "export", "1", "--out", str(out)])
    assert exported.exit_code == 0 and "wrote 2 customers" in exported.output
    assert [r["customer_id"] for r in csv.DictReader(out.open())] == [str(i) for i in ids[:2]]
    acted = runner.invoke(cli, ["lists", "act", "1", "create_tasks", "--title", "Thank",
                                "--team", "care", "--key", "k"])
    assert acted.exit_code == 0 and "2 done" in acted.output, acted.output
    repeated = runner.invoke(cli, ["lists", "act", "1", "create_tasks", "--title", "Thank",
                                   "--team", "care", "--key", "k"])
    assert repeated.exit_code == 0
    missing = runner.invoke(cli, ["lists", "act", "1", "add_tag"])
    assert missing.exit_code == 1 and "tag" in missing.output
    with session_scope(sqlite_engine) as session:
        assert session.scalar(select(func.count()).select_from(Task)) == 2
        assert session.scalar(select(func.count()).select_from(CustomerTag)) == 3
    shown = runner.invoke(cli, ["lists", "show", "1"])
    assert "tags: vip" in shown.output and "create_tasks" in shown.output
    removed = runner.invoke(cli, ["tags", "remove", str(ids[0]), "newsletter"])
    assert "tags now: vip" in removed.output
    counted = runner.invoke(cli, ["tags", "list", "--format", "csv"])
    assert counted.output.splitlines() == ["tag,customers", "vip,2"]
