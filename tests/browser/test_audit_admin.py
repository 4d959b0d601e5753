"""In a real browser: an admin deactivates a signed-in user, whose open session ends at
once (their next click lands on the sign-in page), and the audit page shows who did it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.browsing import axe_violations, seeding, shot, sign_in

pytestmark = pytest.mark.browser


def test_deactivating_a_user_ends_their_open_session(page: Any, browser: Any,
                                                     live_server: dict[str, Any]) -> None:
    sign_in(page, "admin")
    page.goto("/admin/users")
    form = page.get_by_role("region", name="Add a user")
    form.get_by_label("Name").fill("Temp Agent")
    form.get_by_label("Email").fill("temp.agent@example.com")
    form.get_by_label("Initial password").fill(seeding.PASSWORD)
    form.get_by_role("button", name="Add user").click()
    page.wait_for_load_state("networkidle")

    other = browser.new_context(base_url=live_server["url"])
    theirs = other.new_page()
    try:
        theirs.goto("/login")
        theirs.get_by_label("Email").fill("temp.agent@example.com")
        theirs.get_by_label("Password").fill(seeding.PASSWORD)
        theirs.get_by_role("button", name="Sign in").click()
        theirs.wait_for_load_state("networkidle")
        theirs.goto("/customers")
        assert "/login" not in theirs.url  # signed in

        page.get_by_role("button", name="Deactivate temp.agent@example.com").click()
        page.wait_for_load_state("networkidle")
        assert page.get_by_text("temp.agent@example.com deactivated").is_visible()

        theirs.goto("/customers")
        assert re.search(r"/login", theirs.url), theirs.url  # the session is gone
        theirs.get_by_label("Email").fill("temp.agent@example.com")
        theirs.get_by_label("Password").fill(seeding.PASSWORD)
        theirs.get_by_role("button", name="Sign in").click()
        assert theirs.get_by_role("alert").inner_text().startswith("Wrong email or password")
    finally:
        other.close()

    page.goto("/admin/audit?entity=staff_user&action=update")
    row = page.locator("tbody tr").filter(has_text="is_active").first
    assert "admin" in row.inner_text() and "True → False" in row.inner_text()
    shot(page, "audit-trail")
    assert axe_violations(page) == []
