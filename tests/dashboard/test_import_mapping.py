"""The dashboard's column-mapping step: upload, preview with the detected layout, map
columns (suggested) and constants, dry-run (nothing written), import."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from html import unescape
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kithkin.api.app import create_app
from kithkin.customers.models import Customer
from kithkin.dashboard import import_mapping
from kithkin.database.core import session_scope
from kithkin.errors import ValidationError
from kithkin.imports.ingest.kinds import Kind
from tests.dashboard.conftest import sign_in
from tests.dashboard.seeding import form_token

# A shop export: semicolons, Windows-1252 ("Zoë", "Müller"), its own column names, no
# source column, one bad e-mail.
EXPORT = ("Customer No;Vorname;Surname;E-Mail;Country\n"
          "K-1;Zoë;Müller;zoe@example.com;de\n"
          "K-2;Jan;Berg;not-an-email;nl\n"
          "K-3;Ana;Silva;ana@example.com;pt\n").encode("cp1252")


def _upload(client: TestClient, content: bytes = EXPORT, name: str = "shop.csv") -> str:
    token = form_token(client.get("/imports").text)
    response = client.post("/imports", data={"kind": "customers", "csrf_token": token,
                                              "step": "map"},
                           files={"file": (name, content, "text/csv")})
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.match(r"^/imports/map/[0-9a-f]{32}-shop\.csv\?kind=customers$", location)
    return location.split("?")[0]


def _selected(html: str, field: str) -> str:
    select = html.split(f'name="column:{field}"')[1].split("</select>")[0]
    match = re.search(r'<option value="([^"]*)" selected>', select)
    return unescape(match.group(1)) if match else ""


def _customers() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Customer)) or 0


def _mapping_form(page: str, **extra: str) -> dict[str, str]:
    form = {"csrf_token": form_token(page), "kind": "customers", "encoding": "cp1252",
            "delimiter": "semicolon", "column:external_id": "Customer No",
            "column:first_name": "Vorname", "column:last_name": "Surname",
            "column:email": "E-Mail", "column:country": "Country", "constant:source": "shop"}
    return form | extra


def test_preview_detects_the_layout_and_suggests_a_column_for_each_field(
        login: Callable[[str], TestClient]) -> None:
    client = login("manager")
    page = client.get(_upload(client))
    assert page.status_code == 200
    html = page.text
    assert "Windows-1252, semicolon-separated" in html
    assert "<td>Zoë</td>" in html and "<td>Müller</td>" in html  # decoded, split right
    assert html.count("<tr><td>") == 3  # the first rows, header apart
    assert _selected(html, "external_id") == "Customer No"
    assert (_selected(html, "email"), _selected(html, "last_name")) == ("E-Mail", "Surname")
    assert _selected(html, "country") == "Country"
    assert _selected(html, "first_name") == ""  # "Vorname": no guess
    assert _selected(html, "source") == ""  # nothing suggests one: a constant is needed
    assert 'name="constant:source"' in html


def test_dry_run_reports_counts_and_rejects_and_writes_nothing_then_import_does(
        login: Callable[[str], TestClient]) -> None:
    client = login("manager")
    url = _upload(client)
    page = client.get(url).text
    before = _customers()
    dry = client.post(url, data=_mapping_form(page, action="dry-run"))
    assert dry.status_code == 200, dry.text
    assert "Dry run: nothing was written" in dry.text
    numbers = dict(re.findall(r'data-field="(\w+)">([\d,]+)<', dry.text))
    assert numbers == {"rows_read": "3", "rows_written": "2", "rows_rejected": "1"}
    rejects = dry.text.split('class="compact rejects"')[1]
    assert re.search(r'<td class="num">2</td><td>email</td><td>not-an-email</td>', rejects)
    assert _customers() == before
    assert _selected(dry.text, "external_id") == "Customer No"  # the choices are kept

    done = client.post(url, data=_mapping_form(dry.text, action="import"))
    assert done.status_code == 303
    job_url = done.headers["location"]
    deadline = time.monotonic() + 30
    status = client.get(f"{job_url}/status").json()
    while not status["finished"] and time.monotonic() < deadline:
        time.sleep(0.1)
        status = client.get(f"{job_url}/status").json()
    assert status["status"] == "succeeded" and status["rows_written"] == 2
    with session_scope() as session:
        zoe = session.scalars(select(Customer).where(Customer.email == "zoe@example.com")).one()
        assert (zoe.first_name, zoe.last_name, zoe.country) == ("Zoë", "Müller", "DE")
        assert [(i.source, i.external_id) for i in zoe.identifiers] == [("shop", "K-1")]


def test_a_bad_mapping_is_explained_on_the_page(login: Callable[[str], TestClient]) -> None:
    client = login("manager")
    url = _upload(client)
    page = client.get(url).text
    twice = client.post(url, data=_mapping_form(page, action="dry-run",
                                                **{"column:company": "Surname"}))
    assert twice.status_code == 400 and 'role="alert"' in twice.text
    assert "column &#39;Surname&#39; already feeds" in twice.text
    no_source = client.post(url, data=_mapping_form(page, action="dry-run",
                                                    **{"constant:source": ""}))
    assert no_source.status_code == 400 and "missing required column" in no_source.text


def test_another_session_cannot_use_the_upload(login: Callable[[str], TestClient]) -> None:
    url = _upload(login("manager"))
    with TestClient(create_app(), follow_redirects=False) as other:
        sign_in(other, "admin")
        response = other.get(url)
        assert response.status_code == 404
        assert "upload the file again" in response.text
        assert other.get("/imports/map/..%2F..%2Fkithkin.db").status_code == 404


def test_mapping_upload_without_csrf_token_is_refused(
        login: Callable[[str], TestClient]) -> None:
    client = login("manager")
    response = client.post("/imports", data={"kind": "customers", "step": "map"},
                           files={"file": ("shop.csv", EXPORT, "text/csv")})
    assert response.status_code == 403


def test_a_column_named_as_a_field_cannot_be_silently_left_out() -> None:
    columns = ["source", "external_id", "origin"]
    with pytest.raises(ValidationError, match="always read as source"):
        import_mapping.build_options(Kind.CUSTOMERS, columns,
                                     {"source": "origin", "external_id": "external_id"}, {})
    options = import_mapping.build_options(
        Kind.CUSTOMERS, columns, {"source": "origin", "external_id": "external_id",
                                  "acquisition_source": "source"}, {"city": " Paris "})
    assert options.columns == {"origin": "source", "source": "acquisition_source"}
    assert options.defaults == {"city": "Paris"}


def test_layout_detection_of_utf8_comma_files(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("\ufeffsku,name\nA-1,Café, crème\n", encoding="utf-8")
    layout = import_mapping.detect_layout(path)
    assert (layout.encoding, layout.delimiter) == ("utf-8", "comma")
    assert import_mapping.read_preview(path, layout).columns == ["sku", "name"]


def test_preview_of_json_lines_and_parquet(tmp_path: Path) -> None:
    lines = tmp_path / "orders.jsonl"
    lines.write_text('{"Order #": "A-1", "Total": 12.5}\n\n{"Order #": "A-2", "Total": null}\n',
                     encoding="utf-8")
    layout = import_mapping.detect_layout(lines)
    assert (layout.fmt, layout.delimiter) == ("jsonl", None)
    preview = import_mapping.read_preview(lines, layout)
    assert preview == import_mapping.Preview(["Order #", "Total"],
                                             [["A-1", "12.5"], ["A-2", ""]])
    assert import_mapping.suggest_mapping(Kind.TRANSACTIONS, preview.columns) == \
        {"order_id": "Order #", "amount": "Total"}
    table = tmp_path / "products.parquet"
    pq.write_table(pa.table({"SKU": ["P-1"] * 15, "Price": [9.5] * 15}), table)
    layout = import_mapping.detect_layout(table)
    preview = import_mapping.read_preview(table, layout)
    assert preview.columns == ["SKU", "Price"] and len(preview.rows) == 10
    assert import_mapping.suggest_mapping(Kind.PRODUCTS, preview.columns) == \
        {"sku": "SKU", "list_price": "Price"}
