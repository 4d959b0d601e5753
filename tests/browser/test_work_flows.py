"""Working from the dashboard in a real browser: log a call and a complaint from the
customer page and see them in the timeline at once; work a task queue as an agent who
sees only their own book."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from kithkin.database.core import build_engine, session_scope
from kithkin.tasks import service as task_service
from kithkin.tasks.models import Task
from kithkin.users import service as user_service
from tests.browser.browsing import axe_violations, seeding, shot, sign_in

pytestmark = pytest.mark.browser


def _timeline(page: Any) -> Any:
    return page.get_by_role("region", name="Timeline")


def test_log_a_call_and_a_complaint_and_see_them_in_the_timeline(
        page: Any, live_server: dict[str, Any]) -> None:
    sign_in(page, "agent")
    page.goto(f"/customers/{live_server['ids']['turing']}")
    form = page.get_by_role("region", name="Log an interaction")
    form.get_by_label("Kind").select_option("call")
    form.get_by_label("Channel").select_option("phone")
    form.get_by_label("Text").fill("Walked through the warranty terms")
    form.get_by_label("Tags").fill("warranty")
    form.get_by_role("button", name="Log it").click()
    page.wait_for_load_state("networkidle")
    assert "Call logged." in page.content()
    first = _timeline(page).locator("li").first
    assert "Call" in first.inner_text() and "#warranty" in first.inner_text()
    form = page.get_by_role("region", name="Log an interaction")
    form.get_by_label("Kind").select_option("complaint")
    form.get_by_label("Direction").select_option("inbound")
    form.get_by_label("Subject").fill("Scratched screen on arrival")
    form.get_by_label("Score (survey answers)").fill("2")
    form.get_by_label("Scale").select_option("csat")
    form.get_by_role("button", name="Log it").click()
    page.wait_for_load_state("networkidle")
    entries = _timeline(page).locator("li")
    assert "Complaint" in entries.nth(0).inner_text()
    assert "Scratched screen on arrival" in entries.nth(0).inner_text()
    assert "score 2 (csat)" in entries.nth(0).inner_text()
    assert "Call" in entries.nth(1).inner_text()
    shot(page, "customer-360-logged")
    assert axe_violations(page) == []


def test_agent_works_their_queue_and_sees_only_their_book(
        page: Any, live_server: dict[str, Any]) -> None:
    ids, now = live_server["ids"], datetime.now(UTC)
    engine = build_engine(f"sqlite:///{live_server['home'] / 'kithkin.db'}")
    with session_scope(engine) as session:
        agent = user_service.get_user_by_email(session=session,
                                               email=seeding.email_of("agent"))
        manager = user_service.get_user_by_email(session=session,
                                                 email=seeding.email_of("manager"))
        late = task_service.create_task(
            session=session, title="Browser: late call to Ada", customer_id=ids["lovelace"],
            owner_id=agent.id, due_at=now - timedelta(days=3), dedupe_key="browser-late")
        soon = task_service.create_task(
            session=session, title="Browser: check-in with Alan", customer_id=ids["turing"],
            owner_id=agent.id, due_at=now + timedelta(days=1), dedupe_key="browser-soon")
        task_service.create_task(
            session=session, title="Browser: Grace is not yours", customer_id=ids["hopper"],
            owner_id=manager.id, due_at=now - timedelta(days=9), dedupe_key="browser-other")
        late_id, soon_id, manager_id = late.id, soon.id, manager.id
    sign_in(page, "agent")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tasks").click()
    page.wait_for_load_state("networkidle")
    titles = page.locator(".task-title").all_inner_texts()
    mine = [t for t in titles if t.startswith("Browser:")]
    assert mine[:2] == [f"Browser: late call to Ada #{late_id}",
                        f"Browser: check-in with Alan #{soon_id}"]  # overdue first
    assert not any("Grace" in t for t in titles)
    shot(page, "tasks-agent-queue")
    page.goto("/tasks?view=all&status=")
    assert page.get_by_text("Browser: Grace is not yours").count() == 0
    assert axe_violations(page) == []
    page.goto("/tasks")
    page.get_by_label("Outcome").first.fill("Reached Ada: parcel found")
    page.get_by_role("button", name=f"Done: task {late_id}").click()
    page.wait_for_load_state("networkidle")
    assert f"Task {late_id} done." in page.content()
    assert page.get_by_text("Browser: late call to Ada").count() == 0
    card = page.locator(".task").filter(has_text="Browser: check-in with Alan")
    card.get_by_label("Give to").select_option(str(manager_id))
    card.get_by_role("button", name=f"Reassign task {soon_id}").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_text("Browser: check-in with Alan").count() == 0  # the manager's now
    shot(page, "tasks-agent")
    with session_scope(engine) as session:
        done = session.scalars(select(Task).where(Task.id == late_id)).one()
        assert (done.status, done.outcome) == ("done", "Reached Ada: parcel found")
        assert session.get(Task, soon_id).owner_id == manager_id
    engine.dispose()
