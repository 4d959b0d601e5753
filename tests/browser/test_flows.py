"""What staff do in the dashboard, in a real browser: sign in, find a customer, read the
360 page and its chart, import a file with bad rows, and be refused what their role may
not see."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.browsing import axe_violations, seeding, shot, sign_in

pytestmark = pytest.mark.browser


def test_wrong_password_shows_an_error_and_right_one_returns_to_the_asked_page(
        page: Any) -> None:
    page.goto("/customers?q=Turing")
    assert "/login" in page.url  # the page needs a session: sent to sign in first
    page.get_by_label("Email").fill(seeding.email_of("agent"))
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("Wrong email or password")
    shot(page, "login-error")
    page.get_by_label("Password").fill(seeding.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/customers\?q=Turing$"))
    assert page.get_by_role("link", name="Alan Turing").is_visible()


def test_search_open_360_and_see_the_chart(page: Any) -> None:
    sign_in(page, "agent")
    page.get_by_label("Search by last name, email or external id").fill("love")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Ada Lovelace").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", name=re.compile("Ada Lovelace")).is_visible()
    assert page.get_by_role("heading", name="Relationship stages").is_visible()
    svg = page.locator("#order-history svg.main-svg").first
    svg.wait_for()
    assert page.locator("#order-history .trace.bars .point path").count() > 0  # bars are drawn
    shot(page, "customer-360-agent")
    assert page.errors == []


def test_overview_draws_every_chart(page: Any) -> None:
    sign_in(page, "analyst")
    assert page.url.endswith("/")  # analysts land on the overview
    page.locator("#clv-histogram svg.main-svg").first.wait_for()
    for chart in page.locator(".chart").all():
        assert chart.locator("svg.main-svg").count() > 0
    assert page.errors == []


def test_agent_is_refused_admin_pages_and_sees_no_link_to_them(page: Any) -> None:
    sign_in(page, "agent")
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Customers").is_visible()
    for hidden in ("Overview", "Imports", "Users & keys", "Cohorts"):
        assert nav.get_by_role("link", name=hidden).count() == 0
    response = page.goto("/admin/users")
    assert response.status == 403
    assert page.get_by_role("heading", name="Not allowed").is_visible()
    shot(page, "forbidden")


def test_upload_a_csv_with_bad_rows_and_read_the_reject_report(
        page: Any, tmp_path: Path) -> None:
    upload = tmp_path / "new-customers.csv"
    upload.write_text(
        "source,external_id,first_name,last_name,email,acquired_at\n"
        "web,W-1,Marie,Curie,marie@example.com,2025-03-01\n"
        "web,W-2,Pierre,Curie,not-an-email,2025-03-02\n"
        "web,W-3,Irene,Joliot,irene@example.com,not a date\n",
        encoding="utf-8",
    )
    sign_in(page, "manager")
    page.goto("/imports")
    page.get_by_label("What the file holds").select_option("customers")
    page.get_by_label("File (CSV, Parquet or JSON Lines)").set_input_files(str(upload))
    page.get_by_role("button", name="Start import").click()
    page.wait_for_url(re.compile(r"/imports/\d+$"))
    page.get_by_role("heading", name="Rejected rows").wait_for(timeout=20_000)
    report = page.locator("table.rejects")
    assert report.locator("tbody tr").count() == 2
    assert "not-an-email" in report.inner_text()
    assert page.locator("[data-field='rows_written']").inner_text() == "1"
    shot(page, "import-rejects")


def test_upload_map_columns_dry_run_then_import(page: Any, tmp_path: Path) -> None:
    """A shop export with semicolons, Windows-1252 and its own column names: preview,
    map (suggestions prefilled), add the source as a constant, dry-run, import."""
    upload = tmp_path / "shop-export.csv"
    upload.write_bytes(("Customer No;Vorname;Surname;E-Mail\n"
                        "S-1;Zoë;Müller;zoe@example.com\n"
                        "S-2;Jan;Berg;not-an-email\n").encode("cp1252"))
    sign_in(page, "manager")
    page.goto("/imports")
    page.get_by_label("What the file holds").select_option("customers")
    page.get_by_label("File (CSV, Parquet or JSON Lines)").set_input_files(str(upload))
    page.get_by_role("button", name="Preview and map columns").click()
    page.wait_for_url(re.compile(r"/imports/map/"))
    assert "Windows-1252, semicolon-separated" in page.locator("[data-layout]").inner_text()
    preview = page.locator("table.preview")
    assert preview.locator("tbody tr").count() == 2
    assert "Müller" in preview.inner_text()
    assert page.get_by_label("Column for external_id").input_value() == "Customer No"  # suggested
    assert page.get_by_label("Column for email").input_value() == "E-Mail"
    page.get_by_label("Column for first_name").select_option("Vorname")
    page.get_by_label("Value for source when empty").fill("shop")
    page.get_by_role("button", name="Dry run").click()
    page.get_by_role("heading", name="Dry run: nothing was written").wait_for()
    assert page.locator("[data-field='rows_written']").inner_text() == "1"
    rejects = page.locator("table.rejects tbody tr")
    assert rejects.count() == 1 and "not-an-email" in rejects.inner_text()
    assert page.get_by_label("Column for first_name").input_value() == "Vorname"  # choices kept
    assert axe_violations(page) == []
    shot(page, "import-mapping-dry-run")
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url(re.compile(r"/imports/\d+$"))
    page.get_by_role("heading", name="Rejected rows").wait_for(timeout=20_000)
    assert page.locator("[data-field='rows_written']").inner_text() == "1"
    page.goto("/customers?q=Müller")
    assert page.get_by_role("link", name="Zoë Müller").is_visible()


def test_manager_overrides_a_segment_level_and_sees_the_new_effective_level(
        page: Any) -> None:
    sign_in(page, "manager")
    page.goto("/levels")
    row = page.locator("tbody tr").first
    segment = row.locator("th").inner_text()
    current = row.locator("td.level").inner_text()
    chosen = "partnership" if current != "partnership" else "basic"
    row.get_by_label(re.compile(f"^Level for {re.escape(segment)}")).select_option(chosen)
    row.get_by_label(re.compile(f"^Reason for {re.escape(segment)}")).fill("key account")
    row.get_by_role("button", name=re.compile("^Override level")).click()
    page.wait_for_url(re.compile(r"/levels$"))
    assert f"is now at level {chosen}" in page.get_by_role("status").inner_text()
    row = page.locator("tbody tr").first
    assert row.locator("td.level").inner_text() == chosen
    assert "key account" in row.inner_text()
    shot(page, "levels-override")


def test_stage_flows_draws_a_sankey_of_the_moves(page: Any) -> None:
    sign_in(page, "analyst")
    page.goto("/stages")
    sankey = page.locator("#stage-sankey svg.main-svg").first
    sankey.wait_for()
    assert page.locator("#stage-sankey .sankey-link").count() > 0
    assert page.locator("#stage-sankey .sankey-node").count() > 0
    shot(page, "stage-flows")
    assert page.errors == []


def test_customers_page_filtered_by_stage_and_sorted_by_clv(
        page: Any, live_server: dict[str, Any]) -> None:
    import sqlite3

    with sqlite3.connect(live_server["home"] / "kithkin.db") as db:
        stage, members = db.execute(
            "SELECT stage, count(*) FROM customer_stage WHERE model = 'journey' "
            "GROUP BY stage ORDER BY count(*) DESC, stage LIMIT 1").fetchone()
    assert members >= 2  # a sort needs something to order
    sign_in(page, "admin", next_path="/customers")
    page.get_by_label("Stage (journey)").select_option(stage)
    page.get_by_label("Sort").select_option("-clv")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"/customers\?.*stage="))
    rows = page.locator("table.customers tbody tr")
    assert rows.count() == members
    # innerText follows the CSS (headers may be shown upper-case)
    headers = [h.strip().lower() for h in page.locator("table.customers thead th")
               .all_inner_texts()]
    stage_at, clv_at = headers.index("stage (journey)"), headers.index("clv")
    cells = [row.locator("td").all_inner_texts() for row in rows.all()]
    assert {c[stage_at] for c in cells} == {stage}
    clvs = [float(c[clv_at].replace(",", "")) for c in cells if c[clv_at] != "–"]
    assert len(clvs) >= 2 and clvs == sorted(clvs, reverse=True)
    # the choices stay selected, so the next page keeps the same filter and order
    assert page.get_by_label("Sort").input_value() == "-clv"
    shot(page, "customers-stage-by-clv")
