"""`kithkin backup` under a concurrent event load loses nothing acknowledged before it
began; `kithkin restore` brings back the same content into an empty workspace, refuses a
non-empty one (unless --force) and a tampered archive."""

from __future__ import annotations

import sqlite3
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from kithkin.audit.models import AuditLog
from kithkin.backup import service as backup_service
from kithkin.backup.store import BackupError
from kithkin.cli.main import app as cli
from kithkin.config import get_settings
from kithkin.database.core import build_engine, dispose_engines, session_scope
from kithkin.users.models import Role
from tests.api.conftest import AddCustomers, MakeUser

runner = CliRunner()
BATCH = 25


def _rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(path)
    try:
        return sorted(connection.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
    finally:
        connection.close()


def _tables(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return [r[0] for r in connection.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name != 'sqlite_sequence'")]
    finally:
        connection.close()


class EventLoad(threading.Thread):
    """Posts batches of interactions until stopped; remembers when each was acknowledged."""

    def __init__(self, client: TestClient, key: str) -> None:
        super().__init__(daemon=True)
        self.client, self.key = client, key
        self.acknowledged: list[tuple[float, list[str]]] = []
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            ids = [f"load-{n + i}" for i in range(BATCH)]
            n += BATCH
            records = [{"source": "web", "external_id": i, "customer_external_id": "c1",
                        "customer_source": "shop", "occurred_at": "2024-02-01T10:00:00Z",
                        "direction": "inbound", "kind": "inquiry", "text": f"text {i}"}
                       for i in ids]
            response = self.client.post("/api/v1/events/batch", headers={
                "X-API-Key": self.key}, json={"kind": "interactions", "records": records})
            if response.status_code != 200 or response.json()["accepted"] != BATCH:
                self.errors.append(response.text[:300])
                return
            self.acknowledged.append((time.monotonic(), ids))


def test_backup_under_load_then_restore_into_an_empty_workspace(
        client: TestClient, sqlite_engine: Engine, make_user: MakeUser,
        add_customers: AddCustomers, workspace: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    add_customers(3)
    key = make_user(Role.MANAGER)[1]
    (workspace / "models").mkdir(parents=True)
    (workspace / "models" / "clv.json").write_text('{"model": "pareto_nbd"}')
    (workspace / "snapshots" / "2024-01-01").mkdir(parents=True)
    (workspace / "snapshots" / "2024-01-01" / "stages.parquet").write_bytes(b"PAR1" * 100)
    load = EventLoad(client, key)
    load.start()
    while len(load.acknowledged) < 3 and not load.errors:
        time.sleep(0.01)
    began = time.monotonic()
    result = backup_service.create_backup(settings=get_settings(), engine=sqlite_engine)
    batches_during = sum(1 for at, _ in load.acknowledged if at > began)
    time.sleep(0.2)
    load.stop.set()
    load.join(30)
    assert not load.errors, load.errors
    acknowledged_before = {i for at, ids in load.acknowledged if at < began for i in ids}
    assert len(acknowledged_before) >= 3 * BATCH
    archive = result.archive
    assert archive.parent == workspace / "backups"
    manifest = result.manifest
    assert manifest["backend"] == "sqlite" and manifest["tables"]["customer"] == 3
    assert {"workspace/models/clv.json", "workspace/snapshots/2024-01-01/stages.parquet",
            "database/kithkin.db"} <= set(manifest["files"])

    # Restore into an empty workspace and store (as a fresh `kithkin restore` would).
    extracted = tmp_path / "extracted"
    with tarfile.open(archive) as tar:
        tar.extractall(extracted, filter="data")
    copy = extracted / "database" / "kithkin.db"
    stored = {row[2] for row in _rows(copy, "interaction")}  # external_id column
    assert acknowledged_before <= stored, "an acknowledged event is missing from the backup"
    new_home = tmp_path / "restored" / ".kithkin"
    monkeypatch.setenv("KITHKIN_HOME", str(new_home))
    get_settings.cache_clear()
    dispose_engines()
    restored = runner.invoke(cli, ["restore", str(archive)])
    assert restored.exit_code == 0, restored.output
    assert "match the manifest" in restored.output
    target = new_home / "kithkin.db"
    for table in _tables(copy):
        if table == "audit_log":  # restore appends its own row
            continue
        assert _rows(target, table) == _rows(copy, table), table
    assert (new_home / "models" / "clv.json").read_text() == '{"model": "pareto_nbd"}'
    assert (new_home / "snapshots" / "2024-01-01" / "stages.parquet").read_bytes() == \
        b"PAR1" * 100
    engine = build_engine(get_settings().resolved_database_url)
    with session_scope(engine) as session:
        actions = list(session.scalars(select(AuditLog.action).where(
            AuditLog.kind == "backup").order_by(AuditLog.id)))
    engine.dispose()
    assert actions[-1] == "restore"
    # Not empty any more: refused, unless --force.
    again = runner.invoke(cli, ["restore", str(archive)])
    assert again.exit_code == 1 and "not empty" in again.output, again.output
    forced = runner.invoke(cli, ["restore", str(archive), "--force"])
    assert forced.exit_code == 0, forced.output
    print(f"{batches_during} batches were acknowledged while the backup ran")


def test_tampered_archive_and_pruning(sqlite_engine: Engine, add_customers: AddCustomers,
                                      tmp_path: Path) -> None:
    add_customers(2)
    settings = get_settings()
    result = backup_service.create_backup(settings=settings, engine=sqlite_engine)
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(result.archive) as source, tarfile.open(tampered, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member)
            assert data is not None
            content = data.read()
            if member.name == "database/kithkin.db":
                content = content[:-1] + bytes([content[-1] ^ 1])
            member.size = len(content)
            import io

            target.addfile(member, io.BytesIO(content))
    with pytest.raises(BackupError, match="checksum"):
        backup_service.restore_backup(settings=settings, engine=sqlite_engine,
                                      archive=tampered, force=True)
    for _ in range(3):
        backed = runner.invoke(cli, ["backup", "--keep", "2"])
        assert backed.exit_code == 0, backed.output
    assert len(list((settings.home / "backups").glob("kithkin-backup-*.tar.gz"))) == 2


def test_postgresql_backup_and_restore(pg_engine: Engine, pg_server: str,
                                       tmp_path: Path, workspace: Path) -> None:
    from sqlalchemy import text

    from kithkin.customers.models import Customer

    with session_scope(pg_engine) as session:
        session.add_all([Customer(first_name=f"P{i}", country="FR") for i in range(5)])
    result = backup_service.create_backup(settings=get_settings(), engine=pg_engine,
                                          out=tmp_path / "pg.tar.gz")
    assert result.manifest["backend"] == "postgresql"
    assert result.manifest["tables"]["customer"] == 5
    with pytest.raises(BackupError, match="not empty"):
        backup_service.restore_backup(settings=get_settings(), engine=pg_engine,
                                      archive=result.archive)
    with session_scope(pg_engine) as session:
        session.add(Customer(first_name="late", country="FR"))
    backup_service.restore_backup(settings=get_settings(), engine=pg_engine,
                                  archive=result.archive, force=True)
    with pg_engine.connect() as connection:
        names = connection.execute(text("SELECT first_name FROM customer ORDER BY id")
                                   ).scalars().all()
        assert names == [f"P{i}" for i in range(5)]
        # The append-only trigger came back with the dump.
        with pytest.raises(Exception, match="append-only"):
            connection.execute(text("DELETE FROM audit_log"))


def test_serve_backs_up_on_schedule_and_keeps_n(sqlite_engine: Engine,
                                                add_customers: AddCustomers) -> None:
    from kithkin.api.app import create_app

    add_customers(1)
    settings = get_settings().model_copy(update={"backup_interval_hours": 0.3 / 3600,
                                                 "backup_keep": 2})
    app = create_app(settings, include_dashboard=False)
    folder = settings.home / "backups"
    with TestClient(app):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            (job,) = app.state.maintenance
            if job.runs >= 4:
                break
            time.sleep(0.1)
        assert job.runs >= 4 and job.last_error is None, job.last_error
    archives = sorted(folder.glob("kithkin-backup-*.tar.gz"))
    assert len(archives) == 2
    with session_scope(sqlite_engine) as session:
        rows = list(session.scalars(select(AuditLog).where(AuditLog.action == "backup")))
    assert len(rows) >= 4 and {r.actor_label for r in rows} == {"scheduler:backup"}
