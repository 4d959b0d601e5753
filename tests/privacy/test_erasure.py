"""Erasure that holds (#17 part 3): after merge, erase, undo and re-import, the erased
e-mail, name and phone are nowhere in the store: not in the SQLite file (after a WAL
checkpoint and VACUUM, so no free page hides them) and not in a pg_dump of PostgreSQL."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import subprocess
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from kithkin.backup import service as backup_service
from kithkin.config import get_settings
from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.database.core import dispose_engines, session_scope
from kithkin.errors import ConflictError
from kithkin.identity import service as identity_service
from kithkin.identity.models import CustomerMerge
from kithkin.imports.ingest import ingest_file
from kithkin.privacy import erasure
from kithkin.privacy.models import Erasure, Suppression
from kithkin.transactions.models import Transaction
from tests.privacy.seeding import EMAIL, LAST_NAME, SECRETS, seed, write_upload


def _store_text(engine: Engine) -> bytes:
    """Every byte the store keeps, lower-cased."""
    if engine.dialect.name == "sqlite":
        path = Path(str(engine.url.database))
        engine.dispose()
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("VACUUM")
        finally:
            conn.close()
        wal = path.with_name(path.name + "-wal")
        data = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        return data.lower()
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.fail("pg_dump is not installed")
    url = engine.url
    dump = subprocess.run(
        [pg_dump, "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
         "-U", url.username or "postgres", "--data-only", str(url.database)],
        check=True, capture_output=True)
    return dump.stdout.lower()


def _found(data: bytes) -> list[str]:
    return [s for s in SECRETS if s.lower().encode() in data]


def test_erasure_holds_after_merge_undo_and_reimport(store_engine: Engine) -> None:
    settings = get_settings()
    seeded = seed(store_engine, settings)
    assert _found(_store_text(store_engine)) != []  # the probe sees the values when present
    with session_scope(store_engine) as session:
        identity_service.merge(session=session, settings=settings,
                               survivor_id=seeded.survivor, merged_id=seeded.merged,
                               actor="tester")
        orders = session.scalar(select(func.count()).select_from(Transaction))
    with session_scope(store_engine) as session:
        # Erasing the merged-away record erases the person: both records.
        log = erasure.erase(session=session, settings=settings, customer_id=seeded.merged,
                            actor="dpo@example.com")
        assert log.customer_ids == [seeded.merged, seeded.survivor]
        assert log.customer_id == seeded.survivor
        assert log.removed["identifiers"] == 2 and log.removed["merge_images"] >= 2
        # The upload, and the reject file noting their odd date of birth.
        assert log.removed["files"]["rewritten"]["customers-upload.csv"] == 2
    with session_scope(store_engine) as session:
        merge_id = session.scalars(select(CustomerMerge.id)).one()
        with pytest.raises(ConflictError, match="erased"):
            identity_service.undo_merge(session=session, merge_id=merge_id, actor="tester")
    with session_scope(store_engine) as session:
        for customer in session.scalars(select(Customer).where(
                Customer.id.in_([seeded.merged, seeded.survivor]))):
            assert customer.erased_at is not None and customer.email is None
            assert customer.first_name is None and customer.date_of_birth is None
        assert session.scalar(select(func.count()).select_from(CustomerIdentifier).where(
            CustomerIdentifier.customer_id.in_([seeded.merged, seeded.survivor]))) == 0
        # Orders stay, under the pseudonymous id.
        assert session.scalar(select(func.count()).select_from(Transaction)) == orders
        # Two e-mails, the phone and the two source ids.
        assert session.scalar(select(func.count()).select_from(Suppression)) == 5
        erased_log = session.scalars(select(Erasure)).one()
        assert erased_log.actor == "dpo@example.com"
    # The same source file again (the nightly export still has the person): suppressed.
    report = ingest_file(kind="customers", path=write_upload(settings), engine=store_engine,
                         settings=settings)
    assert report.rows_rejected == 2 and report.inserted == 0
    reject_file = Path(report.reject_path or "")
    assert reject_file.is_file()
    assert LAST_NAME not in reject_file.read_text() and EMAIL not in reject_file.read_text()
    # Erasing again purges the re-uploaded file and writes no second log row.
    with session_scope(store_engine) as session:
        again = erasure.erase(session=session, settings=settings, customer_id=seeded.survivor,
                              actor="dpo@example.com")
        assert again.id == erased_log.id
    assert _found(_store_text(store_engine)) == []
    for folder in (settings.uploads_dir, settings.rejects_dir):
        for path in folder.rglob("*"):
            if path.is_file() and path.name != "customers-upload.csv":
                text = path.read_text(errors="replace").lower()
                assert not [s for s in SECRETS if s.lower() in text], path
    # A backup taken after the erasure holds none of it (but the file re-uploaded after
    # it, like the loop above), and restoring it brings none back.
    archive = backup_service.create_backup(settings=settings, engine=store_engine).archive
    with tarfile.open(archive) as bundle:
        for member in bundle.getmembers():
            if member.name.endswith("customers-upload.csv"):
                continue
            content = bundle.extractfile(member) if member.isfile() else None
            data = gzip.decompress(raw) if (raw := content.read() if content else b"") \
                .startswith(b"\x1f\x8b") else raw
            assert _found(data.lower()) == [], member.name
    dispose_engines()  # a restore replaces the file: no other connection may hold it
    backup_service.restore_backup(settings=settings, engine=store_engine, archive=archive,
                                  force=True)
    assert _found(_store_text(store_engine)) == []


def test_new_consent_lets_an_erased_address_back(sqlite_engine: Engine,
                                                 tmp_path: Path) -> None:
    settings = get_settings()
    seeded = seed(sqlite_engine, settings)
    with session_scope(sqlite_engine) as session:
        erasure.erase(session=session, settings=settings, customer_id=seeded.survivor,
                      actor="dpo")
    back = tmp_path / "back.csv"
    back.write_text("source,external_id,last_name,email,consent_email\n"
                    f"web,W-1,{LAST_NAME},{EMAIL},\n", encoding="utf-8")
    refused = ingest_file(kind="customers", path=back, engine=sqlite_engine,
                          settings=settings)
    assert (refused.rows_rejected, refused.inserted) == (1, 0)
    back.write_text("source,external_id,last_name,email,consent_email,consent_at\n"
                    f"web,W-1,{LAST_NAME},{EMAIL},granted,2020-01-01T00:00:00Z\n",
                    encoding="utf-8")
    old_grant = ingest_file(kind="customers", path=back, engine=sqlite_engine,
                            settings=settings)
    assert (old_grant.rows_rejected, old_grant.inserted) == (1, 0)  # said before erasure
    fresh = datetime.now(UTC) + timedelta(seconds=1)
    back.write_text("source,external_id,last_name,email,consent_email,consent_at\n"
                    f"web,W-1,{LAST_NAME},{EMAIL},granted,{fresh:%Y-%m-%dT%H:%M:%SZ}\n",
                    encoding="utf-8")
    signed_up = ingest_file(kind="customers", path=back, engine=sqlite_engine,
                            settings=settings)
    assert (signed_up.rows_rejected, signed_up.inserted) == (0, 1)
    with session_scope(sqlite_engine) as session:
        assert session.scalar(select(func.count()).select_from(Suppression).where(
            Suppression.kind == "email")) == 0  # lifted by the new grant
        # The erased record's source id stays suppressed: it is not the new record's.
        assert session.scalar(select(func.count()).select_from(Suppression).where(
            Suppression.kind == "identifier")) == 1
