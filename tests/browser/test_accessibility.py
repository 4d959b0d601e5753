"""Accessibility in a real browser: an axe-core scan (WCAG 2.1 A and AA rules) of every
dashboard page, a focus ring that can be seen, a data table behind every chart, and the
API docs drawn with every request to another host refused (no internet)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.browsing import axe_violations, shot, sign_in
from tests.browser.test_pages_look import PAGES

pytestmark = pytest.mark.browser


def _wait_for_charts(page: Any) -> None:
    page.wait_for_load_state("networkidle")
    if page.locator(".chart").count():
        page.locator(".chart svg.main-svg").first.wait_for()


def test_every_page_passes_an_axe_wcag_21_aa_scan(page: Any) -> None:
    page.goto("/login")
    found = {"login": axe_violations(page)}
    sign_in(page, "admin")
    for name, path, _ in PAGES:
        page.goto(path)
        _wait_for_charts(page)
        found[name] = axe_violations(page)
    assert {name: v for name, v in found.items() if v} == {}


def _luminance(rgb: tuple[float, ...]) -> float:
    channels = [c / 255 for c in rgb[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _on_white(colour: str) -> tuple[float, ...]:
    """An ``rgb()``/``rgba()`` colour as the opaque colour it shows on a white card."""
    red, green, blue, *alpha = (float(x) for x in re.findall(r"[\d.]+", colour))
    opacity = alpha[0] if alpha else 1.0
    return tuple(opacity * c + (1 - opacity) * 255 for c in (red, green, blue))


def _contrast(a: str, b: str) -> float:
    first, second = (_luminance(_on_white(colour)) for colour in (a, b))
    high, low = max(first, second), min(first, second)
    return (high + 0.05) / (low + 0.05)


def test_keyboard_focus_is_visible_and_chart_toolbars_are_short(page: Any) -> None:
    """WCAG 2.4.7 and 1.4.11: the focus outline has 3:1 against what it sits on. The
    overview's charts used to put 7 toolbar buttons each (49 of 70 tab stops) inside
    their image role; now one button per chart, outside it."""
    sign_in(page, "analyst")
    _wait_for_charts(page)
    stops: list[dict[str, Any]] = []
    for _ in range(80):
        page.keyboard.press("Tab")
        stops.append(page.evaluate("""() => {
            const e = document.activeElement, s = getComputedStyle(e);
            let back = e.parentElement;
            while (back && getComputedStyle(back).backgroundColor.match(/, 0\\)$|transparent/))
                back = back.parentElement;
            return {tag: e.tagName, cls: String(e.className.baseVal ?? e.className),
                    label: e.getAttribute("aria-label") || e.textContent.trim(),
                    inImage: e.closest("[role=img]") !== null,
                    outline: s.outlineStyle, colour: s.outlineColor, width: s.outlineWidth,
                    behind: back ? getComputedStyle(back).backgroundColor : "rgb(255,255,255)"};
        }"""))
        if stops[-1]["tag"] == "BODY":
            break
    assert stops[-1]["tag"] == "BODY"  # went round the whole page
    toolbar = [s for s in stops if "modebar" in s["cls"]]
    charts = page.locator(".chart").count()
    assert len(toolbar) == charts
    assert [(s["inImage"], s["label"].lower()) for s in toolbar] == \
        [(False, "download plot as a png")] * charts
    focusable = [s for s in stops if s["tag"] != "BODY"]
    assert len(focusable) < 2 * charts + 30, len(focusable)
    for stop in focusable:
        assert stop["outline"] != "none" and float(stop["width"].rstrip("px")) >= 2, stop
        assert _contrast(stop["colour"], stop["behind"]) >= 3, stop


def test_every_chart_has_a_data_table_drawn_from_its_figure(page: Any) -> None:
    sign_in(page, "analyst")
    _wait_for_charts(page)
    charts = page.locator("figure:has(.chart)")
    assert charts.count() >= 4
    for index in range(charts.count()):
        figure = charts.nth(index)
        chart_id = figure.locator(".chart").get_attribute("id")
        figure.locator("details summary").click()
        table = figure.locator("details table")
        assert table.is_visible(), chart_id
        assert table.locator("tbody tr").count() > 0, chart_id
    revenue = page.locator("figure:has(#revenue-by-month) details table")
    bars = page.evaluate("() => document.getElementById('revenue-by-month').data[0].y.length")
    assert revenue.locator("tbody tr").count() == bars
    shot(page, "overview-data-tables")


def test_api_docs_render_without_internet(page: Any) -> None:
    outside: list[str] = []

    def refuse_other_hosts(route: Any) -> None:
        host = re.match(r"^[a-z]+://([^/:]+)", route.request.url)
        if host and host.group(1) not in {"127.0.0.1", "localhost"}:
            outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", refuse_other_hosts)
    page.goto("/docs")
    operation = page.locator(".opblock").first
    operation.wait_for(timeout=20_000)
    assert page.locator(".opblock").count() > 20
    assert page.get_by_text("/api/v1/customers").first.is_visible()
    shot(page, "api-docs-offline")
    page.goto("/redoc")
    page.get_by_text("/api/v1/customers").first.wait_for(state="attached", timeout=20_000)
    assert outside == []
    # ReDoc's side menu always tries its maker's logo from their CDN; the policy blocks
    # it before any request and ReDoc hides the image. Anything else blocked is a defect.
    assert [e for e in page.errors if "cdn.redoc.ly/redoc/logo-mini.svg" not in e] == []
