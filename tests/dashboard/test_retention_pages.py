"""The Retention page, the complaints list and the exit interview on the customer page."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from kithkin.database.core import session_scope
from kithkin.interactions.models import Interaction
from kithkin.retention.models import ExitInterview
from tests.dashboard.seeding import form_token


def test_retention_page_for_analytics_roles_only(login: Callable[[str], TestClient]) -> None:
    client = login("analyst")
    page = client.get("/retention")
    assert page.status_code == 200, page.text
    html = page.text
    assert "<h1>Retention</h1>" in html
    assert 'href="/at-risk"' in html
    assert "Service recovery" in html and "never complained" in html
    # the seeded metrics hold no purchase dates: said, not drawn as zeros
    assert "What the data cannot show" in html
    assert 'href="/retention"' in html  # in the nav


def test_agents_cannot_open_the_retention_page(login: Callable[[str], TestClient]) -> None:
    assert login("agent").get("/retention").status_code == 403


def test_exit_interview_from_the_customer_page(login: Callable[[str], TestClient],
                                               seeded: dict[str, int]) -> None:
    client = login("manager")
    customer = seeded["lovelace"]
    page = client.get(f"/customers/{customer}")
    assert 'id="exit-interview-form"' in page.text
    answer = client.post(f"/retention/exit-interviews/{customer}", data={
        "csrf_token": form_token(page.text), "text": "The app kept crashing at checkout.",
        "reason_category": "increased_competition", "defector_type": "technology"})
    assert answer.status_code == 303
    shown = client.get(f"/customers/{customer}").text
    assert "The app kept crashing at checkout." in shown
    assert "defector type: <strong>technology</strong>" in shown
    with session_scope() as session:
        row = session.scalars(select(ExitInterview)).one()
        assert (row.customer_id, row.suggested_type) == (customer, "technology")
        touch = session.get(Interaction, row.interaction_id)
        assert touch is not None and touch.kind == "exit_interview"


def test_complaints_list_moves_a_complaint(login: Callable[[str], TestClient]) -> None:
    client = login("manager")
    with session_scope() as session:
        complaint = session.scalars(select(Interaction).where(
            Interaction.kind == "complaint")).first()
        assert complaint is not None
        complaint.status, complaint.resolved_at = "open", None
        complaint_id = complaint.id
    page = client.get("/complaints")
    assert f'action="/complaints/{complaint_id}/respond"' in page.text
    moved = client.post(f"/complaints/{complaint_id}/respond",
                        data={"csrf_token": form_token(page.text), "back": "/complaints"})
    assert moved.status_code == 303
    with session_scope() as session:
        row = session.get(Interaction, complaint_id)
        assert row is not None and row.responded_at is not None and row.status == "responded"
    again = client.get("/complaints").text
    assert f'action="/complaints/{complaint_id}/respond"' not in again
    assert f'action="/complaints/{complaint_id}/resolve"' in again
