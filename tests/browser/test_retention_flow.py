"""The Retention page and an exit interview recorded from a customer's page, in chromium."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.browsing import axe_violations, shot, sign_in

pytestmark = pytest.mark.browser


def test_walk_the_retention_page(page: Any) -> None:
    sign_in(page, "manager")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Retention").click()
    page.wait_for_url(re.compile(r"/retention$"))
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", name="Retention", exact=True).is_visible()
    assert page.get_by_role("link", name="The at-risk list").is_visible()
    assert page.get_by_role("heading", name="Complaints and service").is_visible()
    charts = page.locator(".chart").all()
    assert charts, "the seeded orders and complaints give at least one chart"
    for chart in charts:
        chart.locator("svg.main-svg").first.wait_for()
    shot(page, "retention")
    page.get_by_role("link", name="Work the complaints").click()
    page.wait_for_url(re.compile(r"/complaints$"))
    assert page.get_by_role("heading", name="Complaints").is_visible()
    assert page.errors == []
    assert axe_violations(page) == []


def test_record_an_exit_interview_from_the_customer_page(page: Any,
                                                         live_server: dict[str, Any]) -> None:
    customer = live_server["ids"]["lovelace"]
    sign_in(page, "manager", next_path=f"/customers/{customer}")
    page.get_by_label("The customer's words").fill(
        "Honestly it was the price: a rival had a sale.")
    page.get_by_label("Reason category").select_option("perceived_difference_in_value")
    page.get_by_label("Defector type").select_option("price")
    page.get_by_role("button", name="Record exit interview").click()
    page.wait_for_load_state("networkidle")
    section = page.locator("section", has=page.get_by_role(
        "heading", name="Complaints and exit interview"))
    assert "Honestly it was the price: a rival had a sale." in section.inner_text()
    assert "defector type: price" in section.inner_text()
    assert "suggested by rules: price" in section.inner_text()
    shot(page, "customer-exit-interview")
    assert axe_violations(page) == []
