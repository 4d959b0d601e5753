"""A real uvicorn server on a seeded SQLite store, driven by Debian chromium (Playwright).

The server runs in a subprocess on a free 127.0.0.1 port for the whole session; every
test gets a fresh browser context (no cookies). Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kithkin.database.core import build_engine
from kithkin.database.manage import upgrade
from tests.browser.browsing import seeding
from tests.browser.seeding_outbox import seed_outbox
from tests.browser.seeding_relationships import seed_pages

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser
_CSP_MESSAGE = re.compile(r"Content Security Policy|strict CSP")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path,
                   timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {process.returncode}:\n"
                               f"{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url + "/login", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"uvicorn did not answer at {url} within {timeout} s")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory,
                chromium_path: str) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("browser") / ".kithkin"
    home.mkdir()
    url = f"sqlite:///{home / 'kithkin.db'}"
    engine = build_engine(url)
    upgrade(engine)
    ids = seeding.seed(engine, reject_dir=home / "rejects") | seed_pages(engine)
    ids |= seed_outbox(engine, home)
    engine.dispose()
    port = _free_port()
    env = {**os.environ, "KITHKIN_HOME": str(home), "KITHKIN_DATABASE_URL": url}
    log_path = home / "uvicorn.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "server_app:app", "--app-dir",
         str(Path(__file__).parent), "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home.parent,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process, log_path)
        yield {"url": base, "ids": ids, "home": home}
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, headless=True,
                                              args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, live_server: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 768},
                                  base_url=live_server["url"])
    opened = context.new_page()
    # JavaScript errors and anything the Content-Security-Policy blocked (chromium logs
    # it to the console; plotly.js warns when it cannot add its styles), asserted empty
    # by the tests that draw charts.
    opened.errors = []
    opened.on("pageerror", lambda exc: opened.errors.append(str(exc)))
    opened.on("console", lambda message: opened.errors.append(
        f"{message.text} at {message.location}") if _CSP_MESSAGE.search(message.text) else None)
    yield opened
    context.close()
