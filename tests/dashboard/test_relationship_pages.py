"""Stage flows and segment levels pages, on the seeded store after two real refreshes."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kithkin.database.core import build_engine
from kithkin.relationships import service as relationship_service
from tests.browser.seeding_relationships import FIRST, SECOND, seed_relationships
from tests.dashboard.seeding import form_token

Login = Callable[[str], TestClient]


@pytest.fixture
def refreshed(seeded: dict[str, int], workspace: Path) -> dict[str, int]:
    engine = build_engine(f"sqlite:///{workspace / 'kithkin.db'}")
    try:
        return seed_relationships(engine)
    finally:
        engine.dispose()


def _first_segment(workspace: Path) -> tuple[str, str, str]:
    engine = build_engine(f"sqlite:///{workspace / 'kithkin.db'}")
    with Session(engine) as session:
        row = relationship_service.list_segment_levels(session=session)[0]
        found = (row.kind, row.segment, row.recommended_level)
    engine.dispose()
    return found


def test_stages_shows_distribution_matrix_sankey_funnel_and_moves_down(
        refreshed: dict[str, int], login: Login) -> None:
    page = login("analyst").get("/stages?model=journey")
    assert page.status_code == 200
    html = page.text
    for heading in ("Customers per stage at each refresh", f"Moves from {FIRST} to {SECOND}",
                    f"Transitions {FIRST} → {SECOND}", "Conversion funnel",
                    "Moved down at the latest refresh"):
        assert heading in html
    assert '"type": "sankey"' in html and "friend to acquaintance 1" in html
    assert '<th scope="row">friend</th>' in html and '<th scope="col" class="num">partner' in html
    # The drifter moved down at the latest refresh and links to their 360 page.
    assert f'href="/customers/{refreshed["drifter"]}"' in html
    moved = html.split("Moved down at the latest refresh")[1]
    assert re.search(r"<td>friend</td><td>acquaintance</td>", moved)


def test_stages_period_and_model_choice(refreshed: dict[str, int], login: Login) -> None:
    client = login("manager")
    same = client.get(f"/stages?model=ladder&start={SECOND}&end={SECOND}")
    assert same.status_code == 200 and "One refresh in the period" in same.text
    assert '<option value="ladder" selected>' in same.text
    assert client.get("/stages?model=nope").status_code == 400
    assert client.get(f"/stages?start={SECOND}&end={FIRST}").status_code == 400
    assert client.get("/stages?start=2020-01-01").status_code == 400


def test_stages_without_refresh_says_so(seeded: dict[str, int], login: Login) -> None:
    page = login("admin").get("/stages?model=ladder")
    assert page.status_code == 200
    assert "No refresh yet" in page.text and "sankey" not in page.text


def test_agent_is_refused_stages_and_levels(refreshed: dict[str, int], login: Login) -> None:
    client = login("agent")
    for path in ("/stages", "/levels"):
        response = client.get(path)
        assert response.status_code == 403 and "Not allowed" in response.text


def test_levels_table_lists_segments_and_analyst_has_no_forms(
        refreshed: dict[str, int], login: Login, workspace: Path) -> None:
    kind, segment, recommended = _first_segment(workspace)
    html = login("analyst").get("/levels").text
    assert f'<th scope="row">{segment}</th>' in html and kind in html and recommended in html
    assert "/levels/override" not in html


def test_manager_overrides_and_clears_a_level(refreshed: dict[str, int], login: Login,
                                              workspace: Path) -> None:
    kind, segment, recommended = _first_segment(workspace)
    chosen = "partnership" if recommended != "partnership" else "basic"
    client = login("manager")
    token = form_token(client.get("/levels").text)
    response = client.post("/levels/override", data={
        "csrf_token": token, "kind": kind, "segment": segment, "level": chosen,
        "reason": "strategic account"})
    assert response.status_code == 303 and response.headers["location"] == "/levels"
    page = client.get("/levels").text
    assert f"is now at level {chosen}" in page  # the flash message
    assert "by manager@kithkin.test" in page and "strategic account" in page
    engine = build_engine(f"sqlite:///{workspace / 'kithkin.db'}")
    with Session(engine) as session:
        row = relationship_service.get_segment_level(session=session, kind=kind,
                                                     segment=segment)
        assert (row.override_level, row.level) == (chosen, chosen)
    response = client.post("/levels/clear", data={"csrf_token": token, "kind": kind,
                                                  "segment": segment})
    assert response.status_code == 303
    assert "Override cleared" in client.get("/levels").text
    with Session(engine) as session:
        row = relationship_service.get_segment_level(session=session, kind=kind,
                                                     segment=segment)
        assert row.override_level is None and row.level == recommended
    engine.dispose()


def test_override_is_refused_to_analysts_without_csrf_and_for_bad_levels(
        refreshed: dict[str, int], login: Login, workspace: Path) -> None:
    kind, segment, _ = _first_segment(workspace)
    client = login("analyst")
    token = form_token(client.get("/levels").text)
    data = {"csrf_token": token, "kind": kind, "segment": segment, "level": "basic"}
    assert client.post("/levels/override", data=data).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    client = login("manager")
    token = form_token(client.get("/levels").text)
    assert client.post("/levels/override",
                       data={**data, "csrf_token": "forged"}).status_code == 403
    bad = client.post("/levels/override", data={**data, "csrf_token": token,
                                                "level": "best friends"})
    assert bad.status_code == 400 and "unknown level" in bad.text
    missing = client.post("/levels/override", data={**data, "csrf_token": token,
                                                    "segment": "no such segment"})
    assert missing.status_code == 404
    engine = build_engine(f"sqlite:///{workspace / 'kithkin.db'}")
    with Session(engine) as session:
        row = relationship_service.get_segment_level(session=session, kind=kind,
                                                     segment=segment)
        assert row.override_level is None
    engine.dispose()


def test_levels_say_when_a_segment_lacks_margin_data(
        refreshed: dict[str, int], login: Login, workspace: Path) -> None:
    """A segment whose revenue has no cost shows "unknown (assumed X%)", never a 0 %
    margin, and the page says how many segments rest on the assumption."""
    from kithkin.relationships.models import SegmentLevel

    kind, segment, _ = _first_segment(workspace)
    engine = build_engine(f"sqlite:///{workspace / 'kithkin.db'}")
    with Session(engine) as session:
        for row in session.query(SegmentLevel):
            known = not (row.kind == kind and row.segment == segment)
            row.margin_known_share = 1.0 if known else 0.0
            if not known:
                row.margin_rate = 0.25
        session.commit()
    engine.dispose()
    html = login("analyst").get("/levels").text
    assert "Margin data missing" in html and "1 of " in html
    row = html.split(f'<th scope="row">{segment}</th>')[1].split("</tr>")[0]
    assert "unknown (assumed 25%)" in row and "margin, assumed)" in row
