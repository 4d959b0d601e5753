"""Files in another encoding and stores that take no write: one clear line, no traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from typer.testing import CliRunner

from kithkin.api.app import create_app
from kithkin.cli.main import app
from kithkin.config import get_settings
from kithkin.database.core import build_engine, session_scope
from kithkin.errors import IngestError, StorageError
from kithkin.imports.ingest import ingest_file
from kithkin.users import service as user_service
from kithkin.users.models import Role

from .helpers import TRANSACTIONS_HEADER, Service, seed_customers, write_csv

LATIN_1 = "source,external_id,first_name\nshop,c1,André\nshop,c2,Zoë\n".encode("latin-1")


def test_latin1_csv_names_the_file_and_the_option(sqlite_engine: Engine,
                                                  tmp_path: Path) -> None:
    path = tmp_path / "clients.csv"
    path.write_bytes(LATIN_1)
    with pytest.raises(IngestError) as caught:  # told UTF-8: refused with the hint
        ingest_file(kind="customers", path=path, engine=sqlite_engine, encoding="utf-8")
    message = str(caught.value)
    assert message.startswith("file clients.csv: not valid UTF-8")
    assert "--encoding latin-1" in message
    assert str(tmp_path) not in message
    report = ingest_file(kind="customers", path=path, engine=sqlite_engine, encoding="latin-1")
    assert report.rows_written == 2
    with sqlite_engine.connect() as conn:
        stored = set(conn.execute(text("SELECT first_name FROM customer")).scalars())
    assert stored == {"André", "Zoë"}
    detected = ingest_file(kind="customers", path=path, engine=sqlite_engine)  # auto
    assert detected.unchanged == 2, detected
    assert "encoding cp1252 (detected)" in (detected.layout or "")


def test_latin1_deep_in_the_file_is_the_same_error(sqlite_engine: Engine,
                                                   tmp_path: Path) -> None:
    rows = "".join(f"shop,c{i},Name{i}\n" for i in range(5_000))
    path = tmp_path / "clients.csv"
    path.write_bytes(("source,external_id,first_name\n" + rows).encode() + LATIN_1[30:])
    with pytest.raises(IngestError, match=r"clients.csv: not valid UTF-8.*--encoding"):
        ingest_file(kind="customers", path=path, engine=sqlite_engine, encoding="utf-8")
    # Detection reads the whole file, not only its start.
    report = ingest_file(kind="customers", path=path, engine=sqlite_engine)
    assert (report.rows_rejected, report.duplicates) == (0, 2)  # c1, c2 come again, last
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("SELECT first_name FROM customer "
                                 "WHERE first_name LIKE 'Andr%'")).scalar_one() == "André"


def test_latin1_json_lines(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "clients.jsonl"
    path.write_bytes('{"source": "shop", "external_id": "c1", "first_name": "André"}\n'
                     .encode("latin-1"))
    with pytest.raises(IngestError, match="--encoding"):
        ingest_file(kind="customers", path=path, engine=sqlite_engine, encoding="utf-8")
    report = ingest_file(kind="customers", path=path, engine=sqlite_engine, encoding="latin-1")
    assert report.rows_written == 1
    assert ingest_file(kind="customers", path=path, engine=sqlite_engine).unchanged == 1


def test_cli_encoding_option(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "clients.csv"
    path.write_bytes(LATIN_1)
    runner = CliRunner()
    refused = runner.invoke(app, ["import", "customers", str(path), "--encoding", "utf-8"])
    assert refused.exit_code == 2
    assert "--encoding" in refused.output
    assert "Traceback" not in refused.output
    done = runner.invoke(app, ["import", "customers", str(path), "--encoding", "latin-1"])
    assert done.exit_code == 0, done.output
    detected = runner.invoke(app, ["import", "customers", str(path)])
    assert detected.exit_code == 0, detected.output
    assert "cp1252" in detected.output


def _job_statuses(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT status FROM import_job")).scalars())


def _orders(folder: Path, count: int) -> Path:
    rows = [["shop", f"o{i}", "c1", "2024-01-01", "10", "EUR"] for i in range(count)]
    return write_csv(folder / "orders.csv", [TRANSACTIONS_HEADER, *rows])


def test_read_only_store_is_one_clear_error(sqlite_engine: Engine, tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    read_only = build_engine(get_settings().resolved_database_url)
    event.listen(read_only, "connect",
                 lambda dbapi, _: dbapi.execute("PRAGMA query_only = ON"))
    with pytest.raises(StorageError) as caught:
        ingest_file(kind="transactions", path=_orders(tmp_path, 10), engine=read_only)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("the store cannot be written: attempt to write a readonly")
    assert "orders.csv" in message
    read_only.dispose()
    assert "running" not in _job_statuses(sqlite_engine)


def test_full_disk_fails_the_job_not_running(sqlite_engine: Engine, tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    path = _orders(tmp_path, 20_000)
    with sqlite_engine.connect() as conn:
        pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
    full = build_engine(get_settings().resolved_database_url)
    event.listen(full, "connect",
                 lambda dbapi, _: dbapi.execute(f"PRAGMA max_page_count = {pages + 8}"))
    with pytest.raises(StorageError, match="database or disk is full"):
        ingest_file(kind="transactions", path=path, engine=full, batch_size=20_000)
    full.dispose()
    assert _job_statuses(sqlite_engine)[-1] == "failed"  # the first: seeding customers


def test_unwritable_reject_folder(sqlite_engine: Engine, tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    rejects = get_settings().rejects_dir
    rejects.parent.mkdir(parents=True, exist_ok=True)
    rejects.write_text("not a folder")  # as a read-only or full workspace would refuse it
    path = write_csv(tmp_path / "orders.csv", [
        TRANSACTIONS_HEADER, ["shop", "o1", "c9", "2024-01-01", "10", "EUR"]])
    with pytest.raises(StorageError, match=r"^cannot write rejects: .*\(importing orders.csv\)"):
        ingest_file(kind="transactions", path=path, engine=sqlite_engine)
    assert _job_statuses(sqlite_engine)[-1] == "failed"


def test_upload_errors_do_not_reveal_server_paths(service: Service, workspace: Path) -> None:
    response = service.client.post(
        "/api/v1/imports", headers=service.headers, data={"kind": "transactions"},
        files={"file": ("orders.csv", b"source,order_id\nshop,o1\n", "text/csv")})
    assert response.status_code == 422, response.text
    assert "orders.csv" in response.text
    assert str(workspace.resolve()) not in response.text
    assert "/uploads/" not in response.text


def test_an_upload_can_name_its_encoding(sqlite_engine: Engine, tmp_path: Path) -> None:
    """The API names the upload's encoding field in its hint, and the field imports it."""
    with session_scope() as session:
        user = user_service.create_user(session=session, email="a@example.com", name="A",
                                        password="correct horse battery", role=Role.ADMIN)
        _, key = user_service.create_api_key(
            session=session, settings=get_settings(), user_id=user.id, name="k", scopes=["*"])
    client = TestClient(create_app(include_dashboard=False))
    headers = {"X-API-Key": key}
    upload = {"file": ("clients.csv", LATIN_1, "text/csv")}
    refused = client.post("/api/v1/imports", headers=headers, files=upload,
                          data={"kind": "customers", "encoding": "utf-8"})
    assert refused.status_code == 422
    assert "encoding field of an upload" in refused.text
    started = client.post("/api/v1/imports", headers=headers, files=upload,
                          data={"kind": "customers", "encoding": "latin-1"})
    assert started.status_code == 202, started.text
    for _ in range(200):
        job = client.get(started.json()["status_url"], headers=headers).json()
        if job["status"] != "running":
            break
        time.sleep(0.05)
    assert job["status"] == "succeeded" and job["rows_written"] == 2, job
