"""Co-creation in a real browser: submit an idea for a customer, record a vote, move it
to planned with a public reply that the idea page then shows."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.browsing import axe_violations, shot, sign_in

pytestmark = pytest.mark.browser


def test_submit_vote_plan_and_reply_in_public(page: Any) -> None:
    sign_in(page, "manager", next_path="/ideas")
    page.get_by_label("Customer (id, email or name; empty for anonymous)").fill(
        "ada@example.com")
    page.get_by_label("Title").fill("Refill pouches for the tea tins")
    page.get_by_label("The idea").fill("Sell refills so the tins are kept, not thrown away.")
    page.get_by_role("button", name="Submit idea").click()
    page.wait_for_url(re.compile(r"/ideas/\d+$"))
    assert page.get_by_role("heading", name="Refill pouches for the tea tins").is_visible()

    page.get_by_label("Customer", exact=True).fill("alan@example.com")
    page.get_by_role("button", name="Vote").click()
    assert "Vote counted." in page.get_by_role("status").inner_text()
    assert "1 vote" in page.locator("main").inner_text()

    page.get_by_label("Move to").select_option("planned")
    page.get_by_label("Public reply (the submitter is told)").fill(
        "Planned for the spring range: thank you, Ada.")
    page.get_by_role("button", name="Move idea").click()
    assert page.locator(".idea-status").inner_text() == "planned"
    reply = page.get_by_label("Public reply", exact=True)
    assert reply.inner_text() == "Planned for the spring range: thank you, Ada."
    shot(page, "idea-planned")
    assert axe_violations(page) == []

    page.goto("/ideas")
    row = page.get_by_role("row", name=re.compile("Refill pouches"))
    assert "planned" in row.inner_text() and "Ada Lovelace" in row.inner_text()
    assert page.errors == []
