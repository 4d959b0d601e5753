"""Every page as an admin, drawn by chromium: no script errors, charts drawn, screenshots
in test-artifacts/browser/ (one sign-in for all pages keeps this fast)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.browsing import shot, sign_in

pytestmark = pytest.mark.browser

# (screenshot name, path, number of charts the page draws with the seeded store)
# The overview draws one stage chart per model refreshed by seeding_relationships (3).
PAGES = [("overview", "/", 7), ("customers", "/customers", 0),
         ("customers-search", "/customers?q=smi", 0), ("cohorts", "/cohorts", 1),
         ("imports", "/imports", 0), ("import-job", "/imports/1", 0),
         ("users", "/admin/users", 0), ("customer-360", "/customers/1", 1),
         ("analytics", "/analytics", 0),
         ("stage-flows-admin", "/stages", 2), ("levels", "/levels", 0),
         ("duplicates", "/duplicates", 0), ("duplicate-pair", "/duplicates/1", 0),
         ("outbox", "/outbox", 0),
         ("account-password", "/account/password", 0), ("tasks", "/tasks?view=all", 0)]


def test_every_page_renders_and_draws_its_charts_without_script_errors(page: Any) -> None:
    sign_in(page, "admin")
    for name, path, charts in PAGES:
        response = page.goto(path)
        assert response.status == 200, name
        assert "script-src 'self';" in response.headers["content-security-policy"], name
        page.wait_for_load_state("networkidle")
        if charts:
            page.locator(".chart svg.main-svg").first.wait_for()
        assert page.locator(".chart").count() == charts, name
        for chart in page.locator(".chart").all():
            assert chart.locator("svg.main-svg").count() > 0, name
        shot(page, name)
    assert page.errors == []
