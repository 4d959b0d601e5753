"""The at-risk list and defection status over the API, the dashboard and the CLI, on
the crafted defection store (tests/atrisk/crafted_store.py) after two refreshes."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from typer.testing import CliRunner

from kithkin.analytics import refresh
from kithkin.api.app import create_app
from kithkin.cli.main import app as cli_app
from kithkin.config import get_settings
from kithkin.customers.models import Customer
from kithkin.database.core import session_scope
from kithkin.users.models import Role
from tests.api.conftest import MakeUser
from tests.atrisk import crafted_store

Headers = Callable[[str], dict[str, str]]


@pytest.fixture
def refreshed(sqlite_engine: Engine, make_user: MakeUser) -> dict[str, object]:
    crafted_store.load(sqlite_engine)
    agent_id, agent_key = make_user(Role.AGENT)
    _, analyst_key = make_user(Role.ANALYST)
    with session_scope(sqlite_engine) as session:  # the agent manages Rita only
        session.execute(update(Customer).where(Customer.id == 1002)
                        .values(account_manager_id=agent_id))
    for as_of in (date(2024, 5, 31), date(2024, 6, 30)):
        refresh.run(settings=get_settings(), as_of=as_of, store_engine=sqlite_engine)
    return {"agent": agent_key, "analyst": analyst_key, "agent_id": agent_id}


def test_api_lists_ranks_filters_exports_and_scopes(refreshed: dict[str, object],
                                                    client: TestClient, bearer: Headers) -> None:
    analyst = bearer(str(refreshed["analyst"]))
    assert client.get("/api/v1/at-risk").status_code == 401
    listed = client.get("/api/v1/at-risk", params={"limit": 1000}, headers=analyst)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    ids = [row["customer_id"] for row in body["rows"]]
    assert body["as_of"] == "2024-06-30" and {1002, 1003} <= set(ids) and 1005 not in ids
    assert {row["stage"] for row in body["rows"]} <= {"at_risk", "defected"}
    known = [row["value_at_risk"] for row in body["rows"] if row["value_at_risk"] is not None]
    assert known == sorted(known, reverse=True)
    won = client.get("/api/v1/at-risk", params={"stage": "won_back"}, headers=analyst).json()
    assert 1005 in [row["customer_id"] for row in won["rows"]]
    assert client.get("/api/v1/at-risk", params={"stage": "gone"},
                      headers=analyst).status_code == 422
    exported = client.get("/api/v1/at-risk.csv", params={"stage": "defected"},
                          headers=analyst)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith(
        "text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {"1002", "1003"} <= {r["customer_id"] for r in rows}
    assert {r["stage"] for r in rows} == {"defected"}
    # an agent sees their own book only, and no other customer's status
    agent = bearer(str(refreshed["agent"]))
    mine = client.get("/api/v1/at-risk", params={"limit": 1000}, headers=agent).json()
    assert [row["customer_id"] for row in mine["rows"]] == [1002]
    assert client.get("/api/v1/customers/1003/defection", headers=agent).status_code in (403,
                                                                                         404)
    status = client.get("/api/v1/customers/1004/defection", headers=analyst).json()
    assert status["stage"] == "defected"
    assert status["p_alive"]["value"] is None or status["p_alive"]["value"] < 0.99
    assert status["changes"][0]["evidence"]["pace_source"].startswith("median")
    assert client.get("/api/v1/customers/99999/defection", headers=analyst).status_code == 404


def test_dashboard_page_customer_section_and_cli(refreshed: dict[str, object],
                                                 sqlite_engine: Engine,
                                                 bearer: Headers) -> None:
    analyst = bearer(str(refreshed["analyst"]))
    with TestClient(create_app(), follow_redirects=False) as web:
        pages = [web.get("/at-risk", params={"stage": "defected", "page": n},
                         headers=analyst) for n in (1, 2)]
        assert all(p.status_code == 200 for p in pages), pages[0].text
        assert 'rel="next"' in pages[0].text and "Export CSV" in pages[0].text
        assert any('href="/customers/1002"' in p.text for p in pages)
        olga = web.get("/customers/1004", headers=analyst)
        assert olga.status_code == 200
        assert "Who is leaving" in olga.text
        assert "Stage history" in olga.text and "silence" in olga.text
        assert ">100%<" not in olga.text.replace(" ", "")  # never certain for a one-time buyer
        exported = web.get("/at-risk.csv", params={"stage": "won_back"}, headers=analyst)
        assert "1005" in exported.text
    runner = CliRunner()
    listed = runner.invoke(cli_app, ["at-risk", "list", "--stage", "defected", "--limit", "0",
                                     "--format", "csv"])
    assert listed.exit_code == 0, listed.output
    assert "1002" in listed.output and listed.output.startswith("customer_id,")
    shown = runner.invoke(cli_app, ["at-risk", "show", "id:1005"])
    assert shown.exit_code == 0, shown.output
    assert "won back since 2024-06-20" in shown.output
    assert "2024-04-29" in shown.output  # the defection before it, in the history
