"""Agents work their own book of customers; managers assign account managers on the 360."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.dashboard.seeding import form_token

Login = Callable[[str], TestClient]


def _listed(html: str) -> set[str]:
    return {line.split(">")[1].split("<")[0] for line in html.split('<a href="/customers/')[1:]}


def test_agent_sees_only_their_customers(seeded: dict[str, int], login: Login) -> None:
    client = login("agent")
    page = client.get("/customers").text
    assert "My customers" in page
    assert _listed(page) == {"Ada Lovelace", "Alan Turing"}
    assert _listed(client.get("/customers", params={"q": "Smith"}).text) == set()
    assert _listed(client.get("/customers", params={"q": "C-1002"}).text) == set()  # Hopper
    assert client.get(f"/customers/{seeded['lovelace']}").status_code == 200
    refused = client.get(f"/customers/{seeded['hopper']}")
    assert refused.status_code == 403 and "not assigned to you" in refused.text
    own = client.get(f"/customers/{seeded['lovelace']}").text
    assert "/account-manager" not in own  # no assign form; the tags form is theirs
    assert 'action="/customers/{}/tags"'.format(seeded["lovelace"]) in own


def test_manager_assigns_an_account_manager(seeded: dict[str, int], login: Login) -> None:
    client = login("manager")
    hopper = f"/customers/{seeded['hopper']}"
    page = client.get(hopper).text
    assert "Account manager</dt><dd>none" in page
    assert _listed(client.get("/customers", params={"q": "Smith"}).text)  # everyone's
    agent_id = next(option.split('"')[0] for option in page.split('<option value="')[1:]
                    if ">Agent User (agent)<" in option)
    saved = client.post(f"{hopper}/account-manager",
                        data={"account_manager_id": agent_id, "csrf_token": form_token(page)})
    assert saved.status_code == 303
    assert "Account manager</dt><dd>Agent User" in client.get(hopper).text
    client.post("/logout", data={"csrf_token": form_token(client.get(hopper).text)})
    agent = login("agent")
    assert agent.get(hopper).status_code == 200
    # An agent cannot reassign, even by posting the form by hand.
    denied = agent.post(f"{hopper}/account-manager",
                        data={"account_manager_id": "", "csrf_token": form_token(
                            agent.get(hopper).text)})
    assert denied.status_code == 403
