"""`kithkin backup` and `kithkin restore`: one archive holding a consistent copy of the
store, the workspace's files and a manifest (row counts per table, checksums, version)
that restore checks before it reports success."""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from kithkin import __version__
from kithkin.audit import service as audit_service
from kithkin.audit.models import AuditKind
from kithkin.backup import manifest as manifest_module
from kithkin.backup import store
from kithkin.backup.manifest import DATABASE_DIR, FILES_DIR, MANIFEST_NAME
from kithkin.backup.store import BackupError
from kithkin.config import Settings
from kithkin.database.core import session_scope

ARCHIVE_PREFIX = "kithkin-backup-"
ARCHIVE_SUFFIX = ".tar.gz"
# Tables that may hold rows in a store that is still "empty" for restore purposes: the
# schema version, and the audit rows the first-use initialisation itself wrote.
BOOKKEEPING_TABLES = frozenset({"alembic_version", "audit_log", "audit_scrub_grant"})


def backup_dir(settings: Settings) -> Path:
    return settings.backup_dir or settings.home / "backups"


def _excluded(settings: Settings, engine: Engine) -> set[Path]:
    """Workspace paths that are not copied as files: the live database (copied
    consistently instead), its WAL and locks, and the backups themselves."""
    excluded = {backup_dir(settings).resolve()}
    if engine.dialect.name == "sqlite":
        database = store.sqlite_path(engine).resolve()
        excluded |= {Path(f"{database}{suffix}") for suffix in
                     ("", "-wal", "-shm", "-journal", ".write-lock")}
    return excluded


def workspace_files(settings: Settings, engine: Engine) -> list[Path]:
    """Every file of the workspace a backup carries (models, stage files, snapshots,
    rejects, uploads, the secret that keys API-key digests)."""
    home = settings.home.resolve()
    if not home.is_dir():
        return []
    excluded = _excluded(settings, engine)
    return [path for path in sorted(home.rglob("*")) if path.is_file()
            and not any(path.resolve() == e or e in path.resolve().parents for e in excluded)]


@dataclass(frozen=True)
class BackupResult:
    archive: Path
    manifest: dict[str, Any]


def create_backup(*, settings: Settings, engine: Engine, out: Path | None = None
                  ) -> BackupResult:
    """Write the archive (atomically: a crash leaves no half archive under its name)."""
    started = datetime.now(UTC)
    name = f"{ARCHIVE_PREFIX}{started:%Y%m%dT%H%M%S%fZ}{ARCHIVE_SUFFIX}"
    archive = out or backup_dir(settings) / name
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=archive.parent) as tmp:
        staging = Path(tmp) / "staging"
        (staging / DATABASE_DIR).mkdir(parents=True)
        if engine.dialect.name == "sqlite":
            dump_name = "kithkin.db"
            counts = store.backup_sqlite(engine, staging / DATABASE_DIR / dump_name)
        elif engine.dialect.name == "postgresql":
            dump_name = "kithkin.pgdump"
            counts = store.backup_postgresql(engine, staging / DATABASE_DIR / dump_name)
        else:
            raise BackupError(f"cannot back up a {engine.dialect.name} store")
        home = settings.home.resolve()
        for path in workspace_files(settings, engine):
            target = staging / FILES_DIR / path.resolve().relative_to(home)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        files = manifest_module.file_entries(staging)
        manifest: dict[str, Any] = {
            "format": manifest_module.FORMAT, "kithkin_version": __version__,
            "created_at": started.isoformat(), "backend": engine.dialect.name,
            "database": f"{DATABASE_DIR}/{dump_name}", "tables": counts,
            "files": files,
        }
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        partial = Path(tmp) / "archive.tar.gz"
        with tarfile.open(partial, "w:gz") as tar:
            for path in sorted(staging.rglob("*")):
                if path.is_file():
                    tar.add(path, arcname=path.relative_to(staging).as_posix())
        partial.replace(archive)
    with session_scope(engine) as session:
        audit_service.record(session=session, kind=AuditKind.BACKUP, action="backup",
                             summary=f"{archive.name}: {sum(counts.values())} rows in "
                                     f"{len(counts)} tables, {len(files)} files")
    return BackupResult(archive, manifest)


def prune_backups(*, folder: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest archives in ``folder``; returns the deleted."""
    archives = sorted(folder.glob(f"{ARCHIVE_PREFIX}*{ARCHIVE_SUFFIX}"))
    doomed = archives[:-keep] if keep > 0 else archives
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def _extract(archive: Path, into: Path) -> dict[str, Any]:
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(into, filter="data")  # refuses absolute paths and '..'
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{archive}: not a readable backup archive ({exc})") from exc
    manifest_path = into / MANIFEST_NAME
    if not manifest_path.is_file():
        raise BackupError(f"{archive}: no {MANIFEST_NAME}; not a kithkin backup")
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    if manifest.get("format") != manifest_module.FORMAT:
        raise BackupError(f"{archive}: manifest format {manifest.get('format')!r} is not "
                          f"{manifest_module.FORMAT}")
    problems = manifest_module.mismatches(into, manifest["files"])
    if problems:
        raise BackupError(f"{archive}: " + "; ".join(problems[:5]))
    return manifest


def emptiness_problems(*, settings: Settings, engine: Engine) -> list[str]:
    """Why the target is not empty (tables with rows, workspace files), if it is not."""
    problems = [f"table {name} has {count} rows"
                for name, count in store.store_counts(engine).items()
                if count and name not in BOOKKEEPING_TABLES]
    files = [p for p in workspace_files(settings, engine) if p.name != "secret_key"]
    if files:
        problems.append(f"the workspace has {len(files)} files (e.g. {files[0]})")
    return problems


def restore_backup(*, settings: Settings, engine: Engine, archive: Path,
                   force: bool = False) -> dict[str, Any]:
    """Bring ``archive`` back into this store and workspace, then check every table's row
    count against the manifest; returns the manifest. Refuses a non-empty target unless
    ``force`` (which replaces what is there)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = _extract(archive, root)
        if manifest["backend"] != engine.dialect.name:
            raise BackupError(f"{archive.name} holds a {manifest['backend']} store; this "
                              f"store is {engine.dialect.name}")
        problems = emptiness_problems(settings=settings, engine=engine)
        if problems and not force:
            raise BackupError("the store or workspace is not empty (" + "; ".join(problems[:3])
                              + "): restore into an empty one, or pass --force to replace it")
        dump = root / manifest["database"]
        if engine.dialect.name == "sqlite":
            store.restore_sqlite(engine, dump)
        else:
            store.restore_postgresql(engine, dump)
        files = root / FILES_DIR
        home = settings.home.resolve()
        if files.is_dir():
            for path in sorted(files.rglob("*")):
                if path.is_file():
                    target = home / path.relative_to(files)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target)
    found = store.store_counts(engine)
    wrong = [f"{name}: {found.get(name)} rows, manifest {count}"
             for name, count in manifest["tables"].items() if found.get(name) != count]
    if wrong:
        raise BackupError("restored store does not match the manifest: " + "; ".join(wrong[:5]))
    with session_scope(engine) as session:
        audit_service.record(session=session, kind=AuditKind.BACKUP, action="restore",
                             summary=f"restored {archive.name} (taken "
                                     f"{manifest['created_at']}, kithkin "
                                     f"{manifest['kithkin_version']}); row counts match")
    return manifest
