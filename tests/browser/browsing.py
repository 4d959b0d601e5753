"""Helpers for the browser tests: the shared seed, sign-in and screenshots."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"


def _load_seeding() -> Any:
    spec = importlib.util.spec_from_file_location(
        "dashboard_seeding", ROOT / "tests" / "dashboard" / "seeding.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


seeding = _load_seeding()


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, role: str, *, next_path: str = "") -> None:
    page.goto("/login" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("Email").fill(seeding.email_of(role))
    page.get_by_label("Password").fill(seeding.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a",
                                                    "wcag21aa"]},
              "resultTypes": ["violations"]}


def axe_violations(page: Any) -> list[str]:
    """An axe-core scan of the page as it is now (WCAG 2.1 A and AA rules), one line per
    rule broken; axe-core comes inside the axe-playwright-python package."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=WCAG_21_AA)
    return [f"{v['id']} ({len(v['nodes'])}): {v['help']}; first: {v['nodes'][0]['target']}"
            for v in results.response["violations"]]
