"""Stream CSV, Parquet and JSON Lines files as Arrow batches, never the whole file.

Every batch carries the 1-based data-row number of each row (header excluded), so a
reject always points at the row a person sees in a spreadsheet. Rows the parser cannot
split (wrong number of CSV fields, a line that is not JSON) are not dropped: they come out
as :class:`MalformedRow` and end in the reject file like any other bad row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from kithkin.errors import IngestError

FORMATS = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
           ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


@dataclass(frozen=True)
class MalformedRow:
    row: int
    text: str
    reason: str


@dataclass(frozen=True)
class RawBatch:
    table: pa.Table
    rows: np.ndarray[Any, np.dtype[np.int64]]
    malformed: list[MalformedRow]


def detect_format(path: Path, explicit: str | None = None) -> str:
    if explicit:
        fmt = {"json": "jsonl", "ndjson": "jsonl"}.get(explicit.lower(), explicit.lower())
        if fmt not in {"csv", "parquet", "jsonl"}:
            raise IngestError(f"unknown format {explicit!r} (csv, parquet, jsonl)", file=str(path))
        return fmt
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise IngestError(
            f"cannot tell the format from the extension {path.suffix!r}; use --format "
            "csv, parquet or jsonl", file=str(path),
        )
    return found


class FileSource:
    """An opened input file: its column names, then its batches in file order."""

    def __init__(self, path: Path, *, fmt: str, batch_size: int) -> None:
        self.path, self.fmt, self.batch_size = path, fmt, batch_size
        if not path.is_file():
            raise IngestError("file not found or not a regular file", file=str(path))
        try:
            if path.stat().st_size == 0:
                raise IngestError("file is empty (not even a header)", file=str(path))
            self.columns = self._read_columns()
        except OSError as exc:
            raise IngestError(f"cannot read file: {exc}", file=str(path)) from exc

    def _read_columns(self) -> list[str]:
        if self.fmt == "csv":
            with self.path.open(encoding="utf-8-sig", newline="") as handle:
                header = next(csv.reader(handle), None)
            if not header:
                raise IngestError("file is empty (not even a header)", file=str(self.path))
            return [name.strip() for name in header]
        if self.fmt == "parquet":
            try:
                return list(pq.ParquetFile(self.path).schema_arrow.names)
            except pa.ArrowException as exc:
                raise IngestError(f"not a readable Parquet file: {exc}",
                                  file=str(self.path)) from exc
        with self.path.open("rb") as handle:
            for line in handle:
                if line.strip():
                    try:
                        first = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise IngestError(
                            f"first line is not JSON: {exc}", file=str(self.path)
                        ) from exc
                    if not isinstance(first, dict):
                        raise IngestError("JSON Lines rows must be objects", file=str(self.path))
                    return list(first)
        raise IngestError("file is empty (no JSON line)", file=str(self.path))

    def batches(self) -> Iterator[RawBatch]:
        try:
            if self.fmt == "csv":
                yield from self._csv_batches()
            elif self.fmt == "parquet":
                yield from self._parquet_batches()
            else:
                yield from self._jsonl_batches()
        except (OSError, pa.ArrowException) as exc:
            raise IngestError(f"cannot read file: {exc}", file=str(self.path)) from exc

    def _csv_batches(self) -> Iterator[RawBatch]:
        malformed: list[MalformedRow] = []
        expected = len(self.columns)

        def on_invalid(row: Any) -> str:
            # Line 1 is the header, so line n is data row n - 1 (exact without multi-line
            # quoted values, which shift physical lines).
            number = (row.number - 1) if row.number is not None else -1
            malformed.append(MalformedRow(
                row=number, text=row.text,
                reason=f"malformed CSV row: {row.actual_columns} fields, expected {expected}",
            ))
            return "skip"

        with self.path.open("rb") as handle:
            sample = handle.read(1 << 16)
        row_bytes = max(16, len(sample) // max(1, sample.count(b"\n")))
        reader = pa_csv.open_csv(
            self.path,
            read_options=pa_csv.ReadOptions(
                use_threads=False, block_size=max(1 << 16, self.batch_size * row_bytes)
            ),
            parse_options=pa_csv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(self.columns, pa.string()),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        next_row = 1
        skips: set[int] = set()
        for record_batch in reader:
            # Data rows are consecutive except the malformed ones the parser skipped.
            skips = {row for row in skips | {m.row for m in malformed} if row >= next_row}
            skipped = np.asarray(sorted(skips), dtype=np.int64)
            candidates = np.arange(next_row, next_row + record_batch.num_rows + len(skipped),
                                   dtype=np.int64)
            numbers = candidates[~np.isin(candidates, skipped)][:record_batch.num_rows]
            next_row = int(numbers[-1]) + 1 if len(numbers) else next_row
            yield RawBatch(pa.Table.from_batches([record_batch]), numbers, malformed[:])
            malformed.clear()
        if malformed:
            yield RawBatch(pa.table({c: pa.array([], pa.string()) for c in self.columns}),
                           np.empty(0, dtype=np.int64), malformed[:])

    def _parquet_batches(self) -> Iterator[RawBatch]:
        start = 1
        for record_batch in pq.ParquetFile(self.path).iter_batches(batch_size=self.batch_size):
            rows = np.arange(start, start + record_batch.num_rows, dtype=np.int64)
            start += record_batch.num_rows
            yield RawBatch(pa.Table.from_batches([record_batch]), rows, [])

    def _jsonl_batches(self) -> Iterator[RawBatch]:
        lines: list[bytes] = []
        numbers: list[int] = []
        with self.path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    lines.append(line)
                    numbers.append(number)
                if len(lines) >= self.batch_size:
                    yield _json_batch(lines, numbers)
                    lines, numbers = [], []
        if lines:
            yield _json_batch(lines, numbers)


def _json_batch(lines: list[bytes], numbers: list[int]) -> RawBatch:
    try:
        table = pa_json.read_json(io.BytesIO(b"".join(lines)))
        return RawBatch(table, np.asarray(numbers, dtype=np.int64), [])
    except pa.ArrowException:
        pass  # mixed types or a bad line: parse line by line, keeping every value as text
    records: list[dict[str, str | None]] = []
    good: list[int] = []
    malformed: list[MalformedRow] = []
    for number, line in zip(numbers, lines, strict=True):
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            malformed.append(MalformedRow(number, line.decode("utf-8", "replace").rstrip(),
                                          f"not a JSON object: {exc.msg}"))
            continue
        if not isinstance(value, dict):
            malformed.append(MalformedRow(number, line.decode("utf-8", "replace").rstrip(),
                                          "not a JSON object"))
            continue
        records.append({k: v if v is None or isinstance(v, str) else json.dumps(v)
                        for k, v in value.items()})
        good.append(number)
    names = list(dict.fromkeys(k for record in records for k in record))
    table = pa.table({n: pa.array([r.get(n) for r in records], pa.string()) for n in names})
    return RawBatch(table, np.asarray(good, dtype=np.int64), malformed)


def records_batch(records: list[dict[str, Any]]) -> RawBatch:
    """In-memory records (the REST API) as one batch; row numbers are list positions."""
    names = list(dict.fromkeys(k for record in records for k in record))
    columns: dict[str, pa.Array] = {}
    for name in names:
        values = [record.get(name) for record in records]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowException, TypeError, ValueError):
            columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    table = pa.table(columns) if columns else pa.table({})
    return RawBatch(table, np.arange(1, len(records) + 1, dtype=np.int64), [])
