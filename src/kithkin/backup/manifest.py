"""The archive's manifest: what a backup holds and how to tell it arrived intact."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

FORMAT = 1
MANIFEST_NAME = "manifest.json"
DATABASE_DIR = "database"
FILES_DIR = "workspace"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_entries(root: Path) -> dict[str, dict[str, Any]]:
    """``{relative path: {sha256, bytes}}`` of every file under ``root``."""
    return {path.relative_to(root).as_posix(): {"sha256": sha256_of(path),
                                                "bytes": path.stat().st_size}
            for path in sorted(root.rglob("*")) if path.is_file()}


def mismatches(root: Path, expected: dict[str, dict[str, Any]]) -> list[str]:
    """What differs between the files under ``root`` and the manifest's entries."""
    found = file_entries(root)
    problems = [f"{name}: missing from the archive" for name in expected if name not in found]
    problems += [f"{name}: not listed in the manifest" for name in found
                 if name not in expected and name != MANIFEST_NAME]
    problems += [f"{name}: checksum {found[name]['sha256'][:12]}… does not match the "
                 f"manifest's {entry['sha256'][:12]}…"
                 for name, entry in expected.items()
                 if name in found and found[name]["sha256"] != entry["sha256"]]
    return problems
