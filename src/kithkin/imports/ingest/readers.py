"""Stream CSV, Parquet and JSON Lines files as Arrow batches, never the whole file.

Every batch carries the 1-based data-row number of each row (header excluded), so a
reject always points at the row a person sees in a spreadsheet. Rows the parser cannot
split (wrong number of CSV fields, a line that is not JSON) are not dropped: they come out
as :class:`MalformedRow` and end in the reject file like any other bad row.

Nothing in a file can crash a reader: a line far longer than the CSV block gets a block
that holds it (the row is then rejected as too long), JSON that may nest deeper
than :data:`JSON_FAST_DEPTH` is parsed line by line by Python (which refuses absurd depths as
a bad row) instead of by Arrow's recursive parser, and a file that is not in the expected
encoding is refused with a hint to pass ``--encoding``.
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from kithkin.errors import IngestError
from kithkin.imports.ingest.sniff import (
    AUTO,
    WHITESPACE,
    Layout,
    delimiter_label,
    detect_encoding,
    text_layout,
)

JSON_FAST_DEPTH = 256
"""A batch with a line holding more brackets than this skips Arrow's recursive parser."""
MAX_BLOCK = (1 << 31) - 1  # Arrow's CSV block size is an int32
DEFAULT_MAX_BLOCK = 1 << 26
"""Largest CSV block sized from the average row; only a longer line gets a larger one."""

FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".tab": "csv", ".dat": "csv",
           ".parquet": "parquet", ".pq": "parquet",
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


def encoding_hint(label: str, detail: str) -> IngestError:
    return IngestError(
        f"not valid UTF-8 ({detail}); pass the file's encoding, e.g. --encoding latin-1 "
        "(or cp1252; the encoding field of an upload)", file=label)


def check_encoding(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise IngestError(f"unknown encoding {encoding!r} (e.g. utf-8, latin-1, cp1252)"
                          ) from None


def display_name(path: Path) -> str:
    """The file as the user named it, relative to the working directory when inside it:
    messages must not reveal where a server keeps its files."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return path.name
    return str(path)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__  # str(exc) would repeat the absolute path


def detect_format(path: Path, explicit: str | None = None) -> str:
    if explicit:
        fmt = {"json": "jsonl", "ndjson": "jsonl"}.get(explicit.lower(), explicit.lower())
        if fmt not in {"csv", "parquet", "jsonl"}:
            raise IngestError(f"unknown format {explicit!r} (csv, parquet, jsonl)",
                              file=display_name(path))
        return fmt
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise IngestError(
            f"cannot tell the format from the extension {path.suffix!r}; use --format "
            "csv, parquet or jsonl", file=display_name(path),
        )
    return found


class FileSource:
    """An opened input file: its column names, then its batches in file order.

    ``label`` names the file in messages (default: :func:`display_name`).
    """

    def __init__(self, path: Path, *, fmt: str, batch_size: int, encoding: str | None = None,
                 label: str | None = None, delimiter: str | None = None,
                 header: bool | None = None, column_names: list[str] | None = None) -> None:
        self.path, self.fmt, self.batch_size = path, fmt, batch_size
        self.label = label or display_name(path)
        self.layout: Layout | None = None
        if not path.is_file():
            raise IngestError("file not found or not a regular file", file=self.label)
        try:
            if path.stat().st_size == 0:
                raise IngestError("file is empty (not even a header)", file=self.label)
            if fmt == "parquet":
                self.encoding = "utf-8"
            elif encoding is None or encoding.lower() == AUTO:
                self.encoding = detect_encoding(path)
                self.guessed_encoding = True
            else:
                self.encoding = check_encoding(encoding)
            self.utf8 = self.encoding == "utf-8"
            self.columns = self._read_columns(delimiter, header, column_names)
        except OSError as exc:
            raise IngestError(f"cannot read file: {_reason(exc)}", file=self.label) from exc
        except UnicodeDecodeError as exc:
            raise encoding_hint(self.label, f"byte 0x{exc.object[exc.start]:02x} in the "
                                "first line") from exc

    guessed_encoding = False

    @property
    def described(self) -> str | None:
        """How the file was read (delimiter, encoding, header), for the report."""
        if self.layout is not None:
            return self.layout.described
        if self.fmt == "jsonl":
            return f"JSON Lines, encoding {self.encoding}" + (
                " (detected)" if self.guessed_encoding else "")
        return None

    @property
    def one_column_hint(self) -> str | None:
        """A hint when a text file was read as a single column: most likely the wrong
        delimiter."""
        if self.layout is None or len(self.columns) != 1:
            return None
        return ("the file was read as ONE column "
                f"({self.columns[0][:60]!r}, delimiter "
                f"{delimiter_label(self.layout.delimiter)}); if its fields are separated "
                "otherwise, pass --delimiter ';', 'tab', '|' or 'whitespace'")

    def _read_columns(self, delimiter: str | None, header: bool | None,
                      column_names: list[str] | None) -> list[str]:
        if self.fmt == "csv":
            if self.utf8:  # the hint names the first bad byte before any parsing
                with self.path.open("rb") as handle:
                    sample = handle.read(1 << 16)
                try:
                    codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
                except UnicodeDecodeError as exc:
                    raise encoding_hint(self.label, f"byte 0x{sample[exc.start]:02x} at "
                                        f"offset {exc.start}") from exc
            self.layout = text_layout(
                self.path, encoding=self.encoding, delimiter=delimiter, header=header,
                column_names=column_names, label=self.label)
            if self.guessed_encoding:
                self.layout = replace(self.layout,
                                      guessed=(*self.layout.guessed, "encoding"))
            if not self.layout.columns:
                raise IngestError("file is empty (not even a header)", file=self.label)
            return self.layout.columns
        if self.fmt == "parquet":
            try:
                return list(pq.ParquetFile(self.path).schema_arrow.names)
            except pa.ArrowException as exc:
                raise IngestError(f"not a readable Parquet file: {exc}",
                                  file=self.label) from exc
        with self.path.open("rb") as handle:
            for line in handle:
                if line.strip():
                    first, reason = _json_object(self._utf8(line))
                    if reason:
                        raise IngestError(f"first line: {reason}", file=self.label)
                    assert first is not None
                    return list(first)
        raise IngestError("file is empty (no JSON line)", file=self.label)

    def _utf8(self, line: bytes) -> bytes:
        return line if self.utf8 else line.decode(self.encoding).encode("utf-8")

    def batches(self) -> Iterator[RawBatch]:
        try:
            if self.layout is not None and self.layout.delimiter == WHITESPACE:
                yield from self._whitespace_batches()
            elif self.fmt == "csv":
                yield from self._csv_batches()
            elif self.fmt == "parquet":
                yield from self._parquet_batches()
            else:
                yield from self._jsonl_batches()
        except OSError as exc:
            raise IngestError(f"cannot read file: {_reason(exc)}", file=self.label) from exc
        except UnicodeDecodeError as exc:
            raise encoding_hint(self.label, str(exc.reason)) from exc
        except pa.ArrowException as exc:
            if "invalid UTF8" in str(exc):
                raise encoding_hint(self.label, "invalid byte sequence") from exc
            raise IngestError(f"cannot read file: {exc}", file=self.label) from exc

    def _block_size(self) -> int:
        """Bytes per CSV block: about ``batch_size`` rows, and more than the longest line.

        Arrow fails on a line longer than its block ("straddling object"), so a sample
        that sees one triggers a scan of the whole file for the longest line.
        """
        with self.path.open("rb") as handle:
            sample = handle.read(1 << 16)
        if self.utf8:
            try:
                codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
            except UnicodeDecodeError as exc:
                raise encoding_hint(self.label, f"byte 0x{sample[exc.start]:02x} at "
                                    f"offset {exc.start}") from exc
        row_bytes = max(16, len(sample) // max(1, sample.count(b"\n")))
        block = min(DEFAULT_MAX_BLOCK, max(1 << 16, self.batch_size * row_bytes))
        longest = _longest_line(self.path, block // 2)
        if longest >= block // 2:
            if 2 * longest > MAX_BLOCK:
                raise IngestError(f"a line of {longest:,} bytes: longer than the "
                                  f"{MAX_BLOCK:,} bytes a CSV row may have", file=self.label)
            block = max(block, 2 * longest)
        return block

    def _csv_batches(self) -> Iterator[RawBatch]:
        malformed: list[MalformedRow] = []
        expected = len(self.columns)

        layout = self.layout
        assert layout is not None
        offset = 1 if layout.header else 0

        def on_invalid(row: Any) -> str:
            # Line 1 is the header (if any), so line n is data row n - 1 (exact without
            # multi-line quoted values, which shift physical lines).
            number = (row.number - offset) if row.number is not None else -1
            malformed.append(MalformedRow(
                row=number, text=row.text,
                reason=f"malformed CSV row: {row.actual_columns} fields, expected {expected}",
            ))
            return "skip"

        reader = pa_csv.open_csv(
            self.path,
            read_options=pa_csv.ReadOptions(
                use_threads=False, block_size=self._block_size(),
                encoding="utf8" if self.utf8 else self.encoding,
                column_names=self.columns, skip_rows=offset,
            ),
            parse_options=pa_csv.ParseOptions(delimiter=layout.delimiter,
                                              invalid_row_handler=on_invalid),
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

    def _whitespace_batches(self) -> Iterator[RawBatch]:
        """Fields separated by runs of spaces or tabs (no quoting: ``str.split``)."""
        layout = self.layout
        assert layout is not None
        expected = len(self.columns)
        offset = 1 if layout.header else 0
        cells: list[list[str]] = []
        numbers: list[int] = []
        malformed: list[MalformedRow] = []

        def batch() -> RawBatch:
            columns = list(zip(*cells, strict=True)) if cells else [()] * expected
            table = pa.table({name: pa.array(values, pa.string())
                              for name, values in zip(self.columns, columns, strict=True)})
            return RawBatch(table, np.asarray(numbers, dtype=np.int64), malformed[:])

        encoding = "utf-8-sig" if self.utf8 else self.encoding
        with self.path.open(encoding=encoding, newline="") as handle:
            for line_no, line in enumerate(handle, start=1):
                if line_no <= offset or not line.strip():
                    continue
                parts = line.split()
                if len(parts) != expected:
                    malformed.append(MalformedRow(
                        row=line_no - offset, text=line.rstrip("\r\n"),
                        reason=f"malformed row: {len(parts)} whitespace-separated fields, "
                               f"expected {expected}"))
                    continue
                cells.append(parts)
                numbers.append(line_no - offset)
                if len(cells) >= self.batch_size:
                    yield batch()
                    cells, numbers = [], []
                    malformed.clear()
        if cells or malformed:
            yield batch()

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
                    lines.append(self._utf8(line))
                    numbers.append(number)
                if len(lines) >= self.batch_size:
                    yield _json_batch(lines, numbers)
                    lines, numbers = [], []
        if lines:
            yield _json_batch(lines, numbers)


def _longest_line(path: Path, probe: int) -> int:
    """The longest line in bytes if some line may reach ``probe`` bytes, else 0.

    Every ``probe``-byte piece holding a newline (one ``memchr`` each) proves that no
    line reaches ``2 * probe`` bytes; only a file failing that is scanned line by line.
    """
    with path.open("rb") as handle:
        while piece := handle.read(probe):
            if b"\n" not in piece and len(piece) == probe:
                break
        else:
            return 0
        handle.seek(0)
        longest = carry = 0
        while chunk := handle.read(1 << 22):
            ends = np.flatnonzero(np.frombuffer(chunk, np.uint8) == 10)
            if len(ends) == 0:
                carry += len(chunk)
                continue
            inner = int(np.diff(ends).max()) if len(ends) > 1 else 0
            longest = max(longest, carry + int(ends[0]) + 1, inner)
            carry = len(chunk) - int(ends[-1]) - 1
        return max(longest, carry)


def _depth(lines: list[bytes]) -> int:
    """An upper bound of the JSON nesting depth: the most opening brackets on a line."""
    return max((line.count(b"[") + line.count(b"{") for line in lines), default=0)


def _json_object(line: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """One JSON Lines row, or the reason it is not one."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"not a JSON object: {exc.msg}"
    except UnicodeDecodeError:
        return None, "not valid UTF-8 (pass the file's encoding with --encoding)"
    except RecursionError:
        return None, "JSON nested too deeply"
    if not isinstance(value, dict):
        return None, "not a JSON object"
    return value, None


def _as_json_text(value: Any) -> str | None:
    """A nested or non-text JSON value as its JSON text; None if too deep to write."""
    if value is None or isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (RecursionError, ValueError):
        return None


def _json_batch(lines: list[bytes], numbers: list[int]) -> RawBatch:
    if _depth(lines) <= JSON_FAST_DEPTH:  # Arrow's parser recurses: deep input crashes it
        try:
            table = pa_json.read_json(io.BytesIO(b"".join(lines)))
            return RawBatch(table, np.asarray(numbers, dtype=np.int64), [])
        except pa.ArrowException:
            pass  # mixed types or a bad line: parse line by line, keeping values as text
    records: list[dict[str, str | None]] = []
    good: list[int] = []
    malformed: list[MalformedRow] = []
    for number, line in zip(numbers, lines, strict=True):
        value, reason = _json_object(line)
        if value is None:
            malformed.append(MalformedRow(number, line.decode("utf-8", "replace").rstrip(),
                                          reason or "not a JSON object"))
            continue
        record = {k: _as_json_text(v) for k, v in value.items()}
        deep = next((k for k, v in value.items() if v is not None and record[k] is None), None)
        if deep is not None:
            malformed.append(MalformedRow(number, line.decode("utf-8", "replace").rstrip(),
                                          f"{deep}: JSON nested too deeply"))
            continue
        records.append(record)
        good.append(number)
    names = list(dict.fromkeys(k for record in records for k in record))
    table = pa.table({n: pa.array([r.get(n) for r in records], pa.string()) for n in names})
    return RawBatch(table, np.asarray(good, dtype=np.int64), malformed)


def python_safe(table: pa.Table) -> pa.Table:
    """``table`` with dates, times, decimals and bytes as text.

    A Parquet timestamp far outside years 1-9999 has no Python value (``to_pylist``
    raises), and none of these fits a JSON column; the reject file and the customer's
    attributes get their text instead.
    """
    for index, column in enumerate(table.columns):
        kind = column.type
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            text = pa.array([None if v is None else v.decode("utf-8", "replace")
                             for v in column.to_pylist()], pa.string())
        elif (pa.types.is_temporal(kind) or pa.types.is_decimal(kind)
              or pa.types.is_float16(kind)):
            text = pc.cast(column, pa.string())
        else:
            continue
        table = table.set_column(index, table.field(index).name, text)
    return table


def records_batch(records: list[dict[str, Any]]) -> RawBatch:
    """In-memory records (the REST API) as one batch; row numbers are list positions.

    Nested values become their JSON text (Arrow would build nested types from them,
    recursively); a record holding a value too deep even for that is a malformed row.
    """
    good: list[dict[str, Any]] = []
    rows: list[int] = []
    malformed: list[MalformedRow] = []
    for number, record in enumerate(records, start=1):
        flat = {k: _as_json_text(v) if isinstance(v, dict | list) else v
                for k, v in record.items()}
        deep = next((k for k, v in record.items() if v is not None and flat[k] is None), None)
        if deep is None:
            good.append(flat)
            rows.append(number)
        else:
            malformed.append(MalformedRow(number, "", f"{deep}: JSON nested too deeply"))
    names = list(dict.fromkeys(k for record in good for k in record))
    columns: dict[str, pa.Array] = {}
    for name in names:
        values = [record.get(name) for record in good]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            # Mixed types, or an integer beyond 64 bits: keep the text, coercion decides.
            columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    table = pa.table(columns) if columns else pa.table({})
    return RawBatch(table, np.asarray(rows, dtype=np.int64), malformed)
