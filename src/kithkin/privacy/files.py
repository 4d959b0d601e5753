"""Purging an erased person from files the workspace keeps: uploads and reject files.

An uploaded customer file (kept until ``upload_retention_hours``) and the reject file of
an import hold the very rows erasure removed from the store; the erasure is not real
while they do. Text files (CSV, TSV, JSON lines, logs) are rewritten without the lines
that carry one of the person's values; Parquet files without the rows that do. Any other
file that contains a value (a spreadsheet, an archive) cannot be edited row by row and is
deleted whole: the import it came from has finished with it or will fail visibly.

A line is the person's when it contains their e-mail or phone (as imported or
normalised), one of their external ids as a whole field, or both their first and last
name. Matching is case-insensitive.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

_FIELD_SPLIT = re.compile(r"[,;\t|\"']")


@dataclass(frozen=True)
class Needles:
    """The values that mark a person's row, lower-cased."""

    anywhere: frozenset[str]  # e-mails and phones: match as substrings
    fields: frozenset[str]  # external ids: match whole fields only
    names: frozenset[tuple[str, str]]  # (first, last): both must occur

    @classmethod
    def of(cls, *, contacts: Iterable[str | None], external_ids: Iterable[str | None],
           names: Iterable[tuple[str | None, str | None]]) -> Needles:
        return cls(
            anywhere=frozenset(v.strip().lower() for v in contacts
                               if v and len(v.strip()) >= 5),
            fields=frozenset(v.strip().lower() for v in external_ids if v and v.strip()),
            names=frozenset((f.strip().lower(), s.strip().lower()) for f, s in names
                            if f and s and f.strip() and s.strip()))

    def __bool__(self) -> bool:
        return bool(self.anywhere or self.fields or self.names)

    def match(self, text: str) -> bool:
        lowered = text.lower()
        if any(value in lowered for value in self.anywhere):
            return True
        if any(first in lowered and last in lowered for first, last in self.names):
            return True
        if self.fields:
            return any(part.strip() in self.fields for part in _FIELD_SPLIT.split(lowered))
        return False


@dataclass
class PurgeReport:
    rewritten: dict[str, int] = field(default_factory=dict)  # file name -> lines removed
    deleted: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"rewritten": dict(self.rewritten), "deleted": list(self.deleted)}


def purge(folders: Iterable[Path], needles: Needles) -> PurgeReport:
    """Remove the person's rows from every file under ``folders``."""
    report = PurgeReport()
    if not needles:
        return report
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            _purge_file(path, needles, report)
    return report


def _purge_file(path: Path, needles: Needles, report: PurgeReport) -> None:
    data = path.read_bytes()
    if path.suffix.lower() == ".parquet":
        removed = _purge_parquet(path, needles)
        if removed:
            report.rewritten[path.name] = removed
        return
    if b"\x00" in data[:8192]:  # binary: spreadsheet, archive
        if _binary_contains(data, needles):
            path.unlink()
            report.deleted.append(path.name)
        return
    text = data.decode("utf-8", errors="surrogateescape")
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if not needles.match(line)]
    if len(kept) != len(lines):
        _replace(path, "".join(kept).encode("utf-8", errors="surrogateescape"))
        report.rewritten[path.name] = len(lines) - len(kept)


def _binary_contains(data: bytes, needles: Needles) -> bool:
    lowered = data.lower()
    values = [*needles.anywhere, *needles.fields, *(n for pair in needles.names for n in pair)]
    return any(v.encode() in lowered or v.encode("utf-16-le") in lowered for v in values)


def _purge_parquet(path: Path, needles: Needles) -> int:
    table = pq.read_table(path)
    strings = [name for name, kind in zip(table.column_names, table.schema.types, strict=True)
               if pa.types.is_string(kind) or pa.types.is_large_string(kind)]
    rows = table.select(strings).to_pylist()
    keep = [not needles.match(" | ".join(str(v) for v in row.values() if v is not None))
            for row in rows]
    if all(keep):
        return 0
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".parquet") as tmp:
        pq.write_table(table.filter(pa.array(keep)), tmp.name)
    os.replace(tmp.name, path)
    return keep.count(False)


def _replace(path: Path, content: bytes) -> None:
    """Write ``content`` to a temporary file and move it over ``path``: a crash leaves
    the old or the new file, never half of one."""
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
        tmp.write(content)
    os.replace(tmp.name, path)
