"""The Playbooks page: levels and their playbooks, dry run, what happened, runs; only
managers and admins run them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from kithkin.config import get_settings
from kithkin.database.core import build_engine
from kithkin.playbooks import service
from tests.dashboard.seeding import form_token
from tests.playbooks.crafted import AS_OF, no_holdout, seed

Login = Callable[[str], TestClient]


def test_page_shows_levels_what_happened_and_runs(seeded: dict[str, int], login: Login,
                                                  workspace: Path) -> None:
    no_holdout(workspace)
    engine = build_engine(f"sqlite:///{workspace / 'kithkin.db'}")
    try:
        seed(engine)
        service.run(engine=engine, settings=get_settings(), as_of=AS_OF)
    finally:
        engine.dispose()
    client = login("manager")
    html = client.get("/playbooks").text
    assert "Partnership: an account manager who knows the customer" in html
    assert 'id="what-happened"' in html and "accountable: checkin" in html
    assert "Run the playbooks now" in html
    preview = client.get("/playbooks", params={"dry_run": 1}).text
    assert 'id="dry-run"' in preview
    done = client.post("/playbooks/run", data={"csrf_token": form_token(html)})
    assert done.status_code == 303 and done.headers["location"] == "/playbooks"
    after = client.get("/playbooks").text
    assert "Playbooks ran:" in after and "manual" in after


def test_analyst_reads_but_cannot_run_and_agent_cannot_open(seeded: dict[str, int],
                                                            login: Login) -> None:
    client = login("analyst")
    html = client.get("/playbooks").text
    assert "Run the playbooks now" not in html and "No playbook has fired yet" in html
    assert client.post("/playbooks/run",
                       data={"csrf_token": form_token(html)}).status_code == 403
    client.post("/logout", data={"csrf_token": form_token(html)})
    assert login("agent").get("/playbooks").status_code in (403, 303)
