"""Read side of the imports pages: whether a job has finished, and its reject report."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from kithkin.imports.models import ImportStatus
from kithkin.imports.schemas import ImportJobRead

REJECT_ROWS_SHOWN = 200
FINISHED = {ImportStatus.SUCCEEDED, ImportStatus.FAILED, ImportStatus.INTERRUPTED}


@dataclass(frozen=True)
class RejectReport:
    columns: list[str]
    rows: list[list[str]]
    truncated: bool


def is_finished(job: ImportJobRead) -> bool:
    return job.status in FINISHED


def reject_report(job: ImportJobRead, *, limit: int = REJECT_ROWS_SHOWN) -> RejectReport | None:
    """The first ``limit`` rows of the job's reject CSV (row, field, value, reason and the
    original columns), or None when nothing was rejected."""
    if not job.reject_path or not Path(job.reject_path).is_file():
        return None
    with Path(job.reject_path).open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        columns = next(reader, [])
        rows: list[list[str]] = []
        for row in reader:
            if len(rows) == limit:
                return RejectReport(columns=columns, rows=rows, truncated=True)
            rows.append(row)
    return RejectReport(columns=columns, rows=rows, truncated=False) if rows else None
