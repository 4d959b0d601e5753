"""Imports from the dashboard: upload, progress, reject report."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.dashboard.seeding import form_token

BAD_ROWS = (
    "source,external_id,first_name,last_name,email\n"
    "web,W-1,Marie,Curie,marie@example.com\n"
    "web,W-2,Pierre,Curie,not-an-email\n"
)


def test_finished_job_shows_counts_and_reject_rows(login: Callable[[str], TestClient],
                                                   seeded: dict[str, int]) -> None:
    html = login("manager").get(f"/imports/{seeded['job']}").text
    assert "Rejected rows" in html and "not an email address" in html and "yesterday" in html
    assert "data-import-status-url" not in html  # finished: no polling


def test_upload_starts_an_import_that_the_status_endpoint_follows(
        login: Callable[[str], TestClient]) -> None:
    client = login("manager")
    token = form_token(client.get("/imports").text)
    response = client.post("/imports", data={"kind": "customers", "csrf_token": token},
                           files={"file": ("people.csv", BAD_ROWS.encode(), "text/csv")})
    assert response.status_code == 303
    job_url = response.headers["location"]
    deadline = time.monotonic() + 30
    status = client.get(f"{job_url}/status").json()
    while not status["finished"] and time.monotonic() < deadline:
        time.sleep(0.1)
        status = client.get(f"{job_url}/status").json()
    assert status == {"status": "succeeded", "rows_read": 2, "rows_written": 1,
                      "rows_rejected": 1, "finished": True}
    html = client.get(job_url).text
    assert "not-an-email" in html and "people.csv" in html
    assert "/uploads/" not in html  # the server path stays on the server
    assert "people.csv" in client.get("/imports").text


def test_upload_without_csrf_token_is_refused(login: Callable[[str], TestClient]) -> None:
    client = login("admin")
    response = client.post("/imports", data={"kind": "customers"},
                           files={"file": ("people.csv", BAD_ROWS.encode(), "text/csv")})
    assert response.status_code == 403
    assert "people.csv" not in client.get("/imports").text  # no job was started


def test_unsupported_file_is_reported_on_the_form(login: Callable[[str], TestClient]) -> None:
    client = login("admin")
    token = form_token(client.get("/imports").text)
    response = client.post("/imports", data={"kind": "customers", "csrf_token": token},
                           files={"file": ("people.xlsx", b"PK..", "application/zip")})
    assert response.status_code == 400
    assert 'role="alert"' in response.text and "people.xlsx" in response.text
