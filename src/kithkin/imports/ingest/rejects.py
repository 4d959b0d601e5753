"""Reject files: every bad row with where, why, and its original columns.

The file is plain CSV so it can be fixed in a spreadsheet and imported again; it is only
created when the first reject appears.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from kithkin.imports.ingest.prepare import Reject

FIXED = ["row", "field", "value", "reason"]


class RejectWriter:
    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path, self.columns = path, columns
        self.count = 0
        self._handle: IO[str] | None = None
        self._writer: Any = None

    def write(self, rejects: Iterable[Reject]) -> None:
        for reject in sorted(rejects, key=lambda r: r.row):
            if self._writer is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = self.path.open("w", encoding="utf-8", newline="")
                self._writer = csv.writer(self._handle)
                self._writer.writerow(FIXED + [c for c in self.columns if c not in FIXED])
            originals = [reject.original.get(c) for c in self.columns if c not in FIXED]
            self._writer.writerow([reject.row, reject.field, reject.value, reject.reason,
                                   *originals])
            self.count += 1
        if self._handle is not None:
            self._handle.flush()

    @property
    def written_path(self) -> Path | None:
        return self.path if self.count else None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
