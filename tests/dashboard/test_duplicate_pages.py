"""Duplicate review pages: list with keyset pages, pair side by side, merge, reject and
undo through the real identity service."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kithkin.customers.models import Customer
from kithkin.dashboard import pages_identity
from kithkin.database.core import build_engine
from kithkin.identity.models import CustomerMerge, DuplicateCandidate
from tests.browser.seeding_relationships import seed_duplicates
from tests.dashboard.seeding import form_token

Login = Callable[[str], TestClient]


@pytest.fixture
def pairs(seeded: dict[str, int], workspace: Path) -> list[int]:
    engine = build_engine(f"sqlite:///{workspace / 'kithkin.db'}")
    try:
        return seed_duplicates(engine)
    finally:
        engine.dispose()


def _read(workspace: Path, model: type, key: int) -> object:
    engine = build_engine(f"sqlite:///{workspace / 'kithkin.db'}")
    with Session(engine) as session:
        row = session.get(model, key)
        session.expunge_all()
    engine.dispose()
    return row


def test_list_pages_through_pending_pairs(pairs: list[int], login: Login,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages_identity, "PAGE_SIZE", 2)
    client = login("manager")
    first = client.get("/duplicates")
    assert first.status_code == 200
    shown = re.findall(r'href="/duplicates/(\d+)"', first.text)
    assert shown == [str(i) for i in pairs[:2]] and "97.0%" in first.text
    cursor = re.search(r'href="/duplicates\?after=([^"]+)" rel="next"', first.text)
    assert cursor
    second = client.get(f"/duplicates?after={cursor.group(1)}")
    assert re.findall(r'href="/duplicates/(\d+)"', second.text) == [str(pairs[2])]
    assert 'rel="next"' not in second.text


def test_pair_page_shows_both_records_and_weights(pairs: list[int], login: Login) -> None:
    html = login("admin").get(f"/duplicates/{pairs[0]}").text
    assert "Sam0 Smith" in html and "Sam1 Smith" in html
    assert "sam0@example.com" in html and "sam1@example.com" in html
    assert "+4.25" in html and "-2.50" in html and "first name last name: exact match" in html
    assert 'name="survivor_id"' in html and "Reject: different customers" in html


def test_merge_keeps_the_chosen_record_then_undo_restores(
        pairs: list[int], login: Login, workspace: Path) -> None:
    client = login("manager")
    page = client.get(f"/duplicates/{pairs[0]}").text
    token = form_token(page)
    candidate = _read(workspace, DuplicateCandidate, pairs[0])
    assert isinstance(candidate, DuplicateCandidate)
    keep, away = candidate.customer_id_r, candidate.customer_id_l  # keep the newer one
    response = client.post(f"/duplicates/{pairs[0]}/merge",
                           data={"csrf_token": token, "survivor_id": str(keep)})
    assert response.status_code == 303
    listing = client.get("/duplicates").text
    assert f"Customer {away} merged into customer {keep}" in listing
    merged = _read(workspace, Customer, away)
    assert isinstance(merged, Customer) and merged.merged_into_id == keep
    undo = re.search(r'action="/duplicates/merges/(\d+)/undo"', listing)
    assert undo
    response = client.post(f"/duplicates/merges/{undo.group(1)}/undo",
                           data={"csrf_token": token})
    assert response.status_code == 303
    assert "undone" in client.get("/duplicates").text
    restored = _read(workspace, Customer, away)
    assert isinstance(restored, Customer) and restored.merged_into_id is None
    entry = _read(workspace, CustomerMerge, int(undo.group(1)))
    assert isinstance(entry, CustomerMerge) and entry.undone_by == "manager@kithkin.test"


def test_reject_marks_the_pair_and_a_second_decision_is_refused(
        pairs: list[int], login: Login, workspace: Path) -> None:
    client = login("admin")
    token = form_token(client.get(f"/duplicates/{pairs[1]}").text)
    assert client.post(f"/duplicates/{pairs[1]}/reject",
                       data={"csrf_token": token}).status_code == 303
    candidate = _read(workspace, DuplicateCandidate, pairs[1])
    assert isinstance(candidate, DuplicateCandidate)
    assert (candidate.status, candidate.decided_by) == ("rejected", "admin@kithkin.test")
    assert f'href="/duplicates/{pairs[1]}"' not in client.get("/duplicates").text
    again = client.post(f"/duplicates/{pairs[1]}/reject", data={"csrf_token": token})
    assert again.status_code == 303
    assert "Not rejected" in client.get(f"/duplicates/{pairs[1]}").text


def test_roles_csrf_and_bad_survivor(pairs: list[int], login: Login,
                                     workspace: Path) -> None:
    client = login("analyst")
    assert client.get("/duplicates").status_code == 403
    assert client.get(f"/duplicates/{pairs[0]}").status_code == 403
    token = form_token(client.get("/customers").text)
    assert client.post(f"/duplicates/{pairs[0]}/reject",
                       data={"csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    client = login("manager")
    assert client.post(f"/duplicates/{pairs[0]}/reject",
                       data={"csrf_token": "forged"}).status_code == 403
    token = form_token(client.get("/duplicates").text)
    assert client.post(f"/duplicates/{pairs[0]}/merge",
                       data={"csrf_token": token, "survivor_id": "999999"}).status_code == 400
    assert client.get("/duplicates/999999").status_code == 404
    candidate = _read(workspace, DuplicateCandidate, pairs[0])
    assert isinstance(candidate, DuplicateCandidate) and candidate.status == "pending"


def test_empty_review_queue_says_how_to_fill_it(seeded: dict[str, int], login: Login) -> None:
    html = login("manager").get("/duplicates").text
    assert "No pairs to review" in html and "No merges yet." in html
