"""The 360 page's consent history, recording a withdrawal, the export buttons and the
erasure with its confirm step, in a real browser (#17)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from kithkin.customers.models import Customer
from kithkin.database.core import build_engine, session_scope
from kithkin.privacy import consent
from kithkin.privacy.models import ConsentSource
from tests.browser.browsing import axe_violations, shot, sign_in

pytestmark = pytest.mark.browser


def _new_customer(home: Path) -> int:
    """A customer of this test only (the server and its store are shared)."""
    engine = build_engine(f"sqlite:///{home / 'kithkin.db'}")
    try:
        with session_scope(engine) as session:
            customer = Customer(first_name="Rosalind", last_name="Franklin",
                                email="rosalind@example.com",
                                email_normalized="rosalind@example.com")
            session.add(customer)
            session.flush()
            consent.record(session=session, change=consent.ConsentChange(
                customer_id=customer.id, channel="email", status="granted",
                source=ConsentSource.IMPORT, source_detail="import from shop",
                wording="Send me the newsletter"))
            return customer.id
    finally:
        engine.dispose()


def test_consent_history_record_export_and_erase(page: Any, live_server: dict[str, Any],
                                                 tmp_path: Path) -> None:
    customer_id = _new_customer(live_server["home"])
    sign_in(page, "manager")
    page.goto(f"/customers/{customer_id}")
    section = page.locator("section", has=page.get_by_role("heading",
                                                           name="Consent and privacy"))
    history = section.get_by_role("table", name="Consent history")
    assert "Send me the newsletter" in history.inner_text()
    assert "import" in history.inner_text()
    # Record the withdrawal heard on the phone.
    form = page.get_by_role("form", name="Record a grant or withdrawal")
    form.get_by_label("Channel", exact=True).select_option("email")
    form.get_by_label("Purpose", exact=True).select_option("marketing")
    form.get_by_label("Statement").select_option("opted_out")
    form.get_by_label("Wording agreed to").fill("Stop the newsletter")
    form.get_by_label("Evidence").fill("call 2026-12-07")
    form.get_by_role("button", name="Record", exact=True).click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("status").inner_text().startswith("Recorded: email for marketing")
    rows = history.locator("tbody tr")
    assert rows.count() == 2
    assert "withdrawn" in rows.first.inner_text()  # newest first
    assert "Stop the newsletter" in rows.first.inner_text()
    current = section.get_by_role("table", name="Current consent by channel and purpose")
    assert "opted out" in current.locator("tr", has_text="Email").inner_text()
    assert axe_violations(page) == []
    shot(page, "customer-360-consent")
    # The export, both versions.
    with page.expect_download() as download:
        page.get_by_role("link", name="Export all data (JSON)").click()
    document = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert document["profile"][0]["email"] == "rosalind@example.com"
    assert [e["status"] for e in document["sections"]["consent_event"]] == [
        "granted", "opted_out"]
    with page.expect_download() as download:
        page.get_by_role("link", name="Export (readable HTML)").click()
    assert "rosalind@example.com" in Path(download.value.path()).read_text(encoding="utf-8")
    # Erasure: a confirm step that wants the number typed.
    page.get_by_role("link", name="Erase this customer…").click()
    page.wait_for_url(re.compile(rf"/customers/{customer_id}/erase$"))
    page.get_by_role("button", name="Erase for good").click()  # empty: the browser refuses
    assert page.url.endswith("/erase")
    page.get_by_label(re.compile("Type the customer number")).fill("999999")
    page.get_by_role("button", name="Erase for good").click()
    page.wait_for_load_state("networkidle")
    assert "Not erased" in page.get_by_role("status").inner_text()
    page.get_by_label(re.compile("Type the customer number")).fill(str(customer_id))
    page.get_by_role("button", name="Erase for good").click()
    page.wait_for_url(re.compile(rf"/customers/{customer_id}$"))
    assert page.get_by_role("status").first.inner_text().startswith("Erased record(s)")
    body = page.locator("main").inner_text()
    assert "Rosalind" not in body and "rosalind@example.com" not in body
    assert "Personal data erased on" in body
    assert page.get_by_role("link", name="Erase this customer…").count() == 0
    shot(page, "customer-360-erased")


def test_agent_sees_consent_but_no_export_or_erase(page: Any) -> None:
    sign_in(page, "agent")
    page.get_by_label("Search by last name, email or external id").fill("love")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Ada Lovelace").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", name="Consent history").is_visible()
    assert page.get_by_role("button", name="Record", exact=True).is_visible()
    assert page.get_by_role("link", name="Export all data (JSON)").count() == 0
    customer_path = page.url.split("127.0.0.1", 1)[1].split("/", 1)[1]
    page.goto(f"/{customer_path}/erase")
    assert page.get_by_role("heading", name="Not allowed").is_visible()
