"""The Lists pages' server-side rules: the live size, a bad filter named, bulk actions
refused to agents (even with a valid form), analysts unable to save; tags on the 360."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from kithkin.api.app import create_app
from tests.dashboard.conftest import sign_in
from tests.dashboard.seeding import form_token

Login = Callable[[str], TestClient]


@pytest.fixture
def login(seeded: dict[str, int]) -> Iterator[Login]:
    """A signed-in client per role (several roles in one test)."""
    clients: list[TestClient] = []

    def as_role(role: str) -> TestClient:
        client = TestClient(create_app(), follow_redirects=False)
        client.__enter__()
        clients.append(client)
        sign_in(client, role)
        return client

    yield as_role
    for client in clients:
        client.__exit__(None, None, None)


def test_live_size_and_a_bad_filter(seeded: dict[str, int], login: Login) -> None:
    client = login("manager")
    # P(alive) 0.2 + 0.07 n is below 0.5 for the first five of the eleven customers
    assert client.get("/lists/size", params={"at_risk": "yes"}).json()["size"] == 5
    assert client.get("/lists/size", params={"at_risk": "yes", "clv_min": "150"}
                      ).json()["size"] == 3
    bad = client.get("/lists/size", params={"clv_min": "9", "clv_max": "1"})
    assert bad.status_code == 400 and "clv_min" in bad.json()["error"]
    page = client.get("/lists").text
    refused = client.post("/lists", data={"csrf_token": form_token(page), "name": "x",
                                          "clv_min": "lots"})
    assert refused.status_code == 400 and "clv_min: &#39;lots&#39; is not a number" in \
        refused.text
    agent = login("agent")
    assert agent.get("/lists/size").json() == {"size": 2, "own_book": True}


def test_roles_on_saving_and_bulk_actions(seeded: dict[str, int], login: Login) -> None:
    manager = login("manager")
    page = manager.get("/lists").text
    saved = manager.post("/lists", data={"csrf_token": form_token(page), "name": "All"},
                         follow_redirects=False)
    assert saved.status_code == 303
    path = saved.headers["location"]
    agent = login("agent")
    own = agent.get(path).text
    assert "Run on all members" not in own
    refused = agent.post(f"{path}/actions", data={
        "csrf_token": form_token(own), "action": "add_tag", "tag": "x"})
    assert refused.status_code == 403
    analyst = login("analyst")
    lists = analyst.get("/lists").text
    assert "Save list" not in lists
    assert analyst.post("/lists", data={"csrf_token": form_token(lists), "name": "y"}
                        ).status_code == 403
    no_token = manager.post(f"{path}/actions", data={"action": "add_tag", "tag": "x"})
    assert no_token.status_code == 403  # CSRF


def test_tags_on_the_customer_360(seeded: dict[str, int], login: Login) -> None:
    client = login("agent")
    ada = f"/customers/{seeded['lovelace']}"
    page = client.get(ada).text
    client.post(f"{ada}/tags", data={"csrf_token": form_token(page), "add": "VIP, spring sale"})
    page = client.get(ada).text
    assert '<span class="badge">spring-sale</span>' in page
    assert '<span class="badge">vip</span>' in page
    client.post(f"{ada}/tags", data={"csrf_token": form_token(page), "remove": "vip"})
    assert '<span class="badge">vip</span>' not in client.get(ada).text
    hopper = f"/customers/{seeded['hopper']}"  # not in the agent's book
    assert client.post(f"{hopper}/tags", data={"csrf_token": form_token(page),
                                               "add": "x"}).status_code == 403
    analyst = login("analyst")
    assert "Add tags" not in analyst.get(ada).text
