"""Lists in a real browser: build a list from filters with its live size, export it as
CSV, bulk-create tasks (a repeated submit is a no-op); agents get no bulk action."""

from __future__ import annotations

import csv
import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from kithkin.database.core import build_engine, session_scope
from kithkin.tasks.models import Task
from tests.browser.browsing import axe_violations, shot, sign_in

pytestmark = pytest.mark.browser


def _tasks_of_list(live_server: dict[str, Any], list_id: int) -> list[Task]:
    engine = build_engine(f"sqlite:///{live_server['home'] / 'kithkin.db'}")
    try:
        with session_scope(engine) as session:
            tasks = session.scalars(select(Task).where(Task.reason == f"list:{list_id}")
                                    .order_by(Task.customer_id)).all()
            session.expunge_all()
            return list(tasks)
    finally:
        engine.dispose()


def test_build_export_and_bulk_create_tasks(page: Any, live_server: dict[str, Any]) -> None:
    sign_in(page, "manager")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Lists").click()
    page.wait_for_url(re.compile(r"/lists$"))
    page.get_by_label("Name", exact=True).fill("Win back valuable")
    page.get_by_label("At risk").select_option("yes")
    size = page.locator("#live-size")
    expect(size).to_have_text("5")
    page.get_by_label("CLV from").fill("150")
    # P(alive) below 0.5 and CLV 150 or more: Grace Hopper, Katherine Johnson, Sam0 Smith
    expect(size).to_have_text("3")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Save list").click()
    page.wait_for_url(re.compile(r"/lists/\d+$"))
    list_id = int(page.url.rsplit("/", 1)[1])
    assert page.locator("[data-field='size']").inner_text() == "3"
    members = page.locator("table.customers tbody tr")
    assert members.count() == 3
    assert "Grace Hopper" in members.first.inner_text()
    shot(page, "list-members")

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"list-{list_id}.csv"
    with open(download.path(), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["first_name"], r["last_name"]) for r in rows] == [
        ("Grace", "Hopper"), ("Katherine", "Johnson"), ("Sam0", "Smith")]
    assert all(float(r["clv"]) >= 150 and float(r["p_alive"]) < 0.5 for r in rows)

    form = page.locator("form.bulk")
    sent = {name: form.locator(f"input[name='{name}']").input_value()
            for name in ("csrf_token", "request_key")}
    page.get_by_label("Action", exact=True).select_option("create_tasks")
    page.get_by_label("Task title").fill("Call to win back")
    page.get_by_label("Due in days").fill("7")
    page.get_by_role("button", name="Run on all members").click()
    page.wait_for_url(re.compile(rf"/lists/{list_id}$"))
    assert "Create tasks: 3 done for 3 members" in page.get_by_role("status").inner_text()
    runs = page.locator("table.runs tbody tr")
    assert runs.count() == 1 and "create tasks" in runs.first.inner_text()
    tasks = _tasks_of_list(live_server, list_id)
    assert [t.title for t in tasks] == ["Call to win back"] * 3
    assert all(t.due_at is not None and t.status == "open" for t in tasks)
    shot(page, "list-bulk-tasks")

    # The same form sent again (a double click, a resent POST): the same run, no new task.
    again = page.request.post(f"/lists/{list_id}/actions", form={
        **sent, "action": "create_tasks", "title": "Call to win back", "due_in_days": "7"})
    assert again.ok
    assert len(_tasks_of_list(live_server, list_id)) == 3
    page.reload()
    assert page.locator("table.runs tbody tr").count() == 1


def test_agent_sees_their_book_and_no_bulk_action(page: Any) -> None:
    sign_in(page, "manager")
    page.goto("/lists")
    page.get_by_label("Name", exact=True).fill("Everyone for agents")
    page.get_by_role("button", name="Save list").click()
    page.wait_for_url(re.compile(r"/lists/\d+$"))
    path = page.url.split("//", 1)[1].split("/", 1)[1]
    page.context.clear_cookies()
    sign_in(page, "agent")
    page.goto("/" + path)
    assert page.locator("[data-field='size']").inner_text() == "2"  # Lovelace, Turing
    assert page.get_by_role("heading", name="Bulk action", exact=True).count() == 0
    assert axe_violations(page) == []
