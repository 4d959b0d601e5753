"""The dashboard's column-mapping step for an uploaded file: read its layout (encoding,
delimiter), preview its first rows, suggest which column feeds which field, turn the
person's choices into an :class:`~kithkin.imports.ingest.options.IngestOptions` (``columns`` and
``defaults``), dry-run it, then import.

Everything here goes through the ingest API (``ingest_file`` with a mapping, dry runs,
:func:`kithkin.jobs.background.start_import`), so the mapped import is the same import
the CLI runs with ``--map``; the delimiter chosen here goes to the import as its own
``delimiter`` option. The functions marked *seam* are where the importer's layout
detection and presets could replace this page's own preview detection.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import Engine

from kithkin.config import Settings
from kithkin.database.writelock import bulk_write_lock
from kithkin.errors import ValidationError
from kithkin.imports.ingest import pipeline as ingest_pipeline
from kithkin.imports.ingest.kinds import SPECS, FieldSpec, Kind
from kithkin.imports.ingest.options import IngestOptions
from kithkin.imports.ingest.readers import detect_format
from kithkin.imports.schemas import ImportReport
from kithkin.jobs import background

PREVIEW_ROWS = 10
SAMPLE_BYTES = 64 << 10
DRY_RUN_REJECTS_SHOWN = 50
ENCODINGS = {"utf-8": "UTF-8", "cp1252": "Windows-1252", "latin-1": "Latin-1 (ISO-8859-1)"}
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
_NAME_PART = re.compile(r"[^a-z0-9]+")
# Common export headers, normalised (lower case, runs of other characters as "_"), that
# name a field differently: the first candidate that is a field of the kind and still
# free is suggested. Exact and normalised field names match first.
_CUSTOMER_KEY = ("customer_external_id", "external_id")
SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("external_id",), "customer_id": _CUSTOMER_KEY, "customer_no": _CUSTOMER_KEY,
    "customer_number": _CUSTOMER_KEY, "customer": _CUSTOMER_KEY, "client_id": _CUSTOMER_KEY,
    "e_mail": ("email",), "email_address": ("email",), "mail": ("email",),
    "firstname": ("first_name",), "given_name": ("first_name",), "forename": ("first_name",),
    "lastname": ("last_name",), "surname": ("last_name",), "family_name": ("last_name",),
    "telephone": ("phone",), "phone_number": ("phone",), "mobile": ("phone",),
    "tel": ("phone",), "zip": ("postcode",), "zip_code": ("postcode",),
    "postal_code": ("postcode",), "address": ("address_line",), "street": ("address_line",),
    "birth_date": ("date_of_birth",), "dob": ("date_of_birth",),
    "birthday": ("date_of_birth",), "organisation": ("company",),
    "organization": ("company",), "order": ("order_id",), "order_number": ("order_id",),
    "order_no": ("order_id",), "order_date": ("ordered_at",), "date": ("ordered_at",),
    "total": ("amount",), "order_total": ("amount",), "value": ("amount",),
    "product": ("sku",), "product_code": ("sku",), "item": ("sku",), "qty": ("quantity",),
    "price": ("unit_price", "list_price"), "line": ("line_no",), "line_number": ("line_no",),
}


@dataclass(frozen=True)
class Layout:
    """How the file is written: its format, and for text files encoding and delimiter
    (``delimiter`` is a key of :data:`DELIMITERS`, None for Parquet and JSON Lines)."""

    fmt: str
    encoding: str
    delimiter: str | None


@dataclass(frozen=True)
class Preview:
    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class DryRun:
    report: ImportReport
    rejects: list[dict[str, str]] = field(default_factory=list)
    more_rejects: bool = False


def detect_layout(path: Path) -> Layout:
    """Seam (the importer's layout detection): the file's format, its text encoding
    (UTF-8 when the first 64 KiB decode, else Windows-1252, else Latin-1) and its CSV
    delimiter (sniffed among comma, semicolon, tab and pipe; comma when unclear)."""
    fmt = detect_format(path)
    if fmt == "parquet":
        return Layout(fmt=fmt, encoding="utf-8", delimiter=None)
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    encoding = "latin-1"
    for candidate in ("utf-8", "cp1252"):
        try:
            # A cut multi-byte character at the end of the sample is not an error.
            codecs.getincrementaldecoder(candidate)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        encoding = candidate
        break
    if fmt != "csv":
        return Layout(fmt=fmt, encoding=encoding, delimiter=None)
    text = sample.decode(encoding, errors="replace").removeprefix("\ufeff")
    lines = text.splitlines()[:PREVIEW_ROWS + 1]
    try:
        found = csv.Sniffer().sniff("\n".join(lines), delimiters="".join(DELIMITERS.values()))
        delimiter = next(k for k, v in DELIMITERS.items() if v == found.delimiter)
    except (csv.Error, StopIteration):
        delimiter = "comma"
    return Layout(fmt=fmt, encoding=encoding, delimiter=delimiter)


def read_preview(path: Path, layout: Layout, *, rows: int = PREVIEW_ROWS) -> Preview:
    """The header and the first ``rows`` rows, read as ``layout`` says; raises
    ValidationError naming the file when it cannot be read that way."""
    try:
        if layout.fmt == "parquet":
            parquet = pq.ParquetFile(path)
            batch = next(parquet.iter_batches(batch_size=rows), None)
            columns = list(parquet.schema_arrow.names)
            records = batch.to_pylist() if batch is not None else []
            return Preview(columns, [[_text(r.get(c)) for c in columns] for r in records])
        encoding = "utf-8-sig" if layout.encoding == "utf-8" else layout.encoding
        with path.open(encoding=encoding, newline="") as handle:
            if layout.fmt == "csv":
                reader = csv.reader(handle, delimiter=DELIMITERS[layout.delimiter or "comma"])
                header = [name.strip() for name in next(reader, [])]
                body = [row for _, row in zip(range(rows), reader, strict=False)]
                return Preview(header, body)
            objects = [json.loads(line) for line in _first_lines(handle, rows)]
    except (UnicodeDecodeError, csv.Error, ValueError, OSError) as exc:
        raise ValidationError(f"{_original_name(path)}: cannot be read as {layout.fmt} in "
                              f"{layout.encoding}: {type(exc).__name__}") from exc
    records = [o for o in objects if isinstance(o, dict)]
    # The importer takes its columns from the first record, so the preview does too.
    columns = list(records[0]) if records else []
    return Preview(columns, [[_text(o.get(c)) for c in columns] for o in records])


def fields_of(kind: Kind) -> tuple[FieldSpec, ...]:
    return SPECS[kind].fields


def suggest_mapping(kind: Kind, columns: list[str]) -> dict[str, str]:
    """Seam (the importer's presets): field -> the file column that most likely feeds
    it: the column named as the field, else the same name in other case or spacing,
    else a common synonym. Each column feeds one field at most."""
    names = [f.name for f in fields_of(kind)]
    chosen: dict[str, str] = {}
    for name in names:
        if name in columns:
            chosen[name] = name
    for column in columns:
        if column in chosen.values():
            continue
        normal = _NAME_PART.sub("_", column.lower()).strip("_")
        candidates = (normal, *SYNONYMS.get(normal, ()))
        target = next((c for c in candidates if c in names and c not in chosen), None)
        if target is not None:
            chosen[target] = column
    return chosen


def build_options(kind: Kind, columns: list[str], chosen: Mapping[str, str],
                  constants: Mapping[str, str]) -> IngestOptions:
    """Seam (the importer's ``--set`` constants): the person's choices as ingest options.

    ``chosen`` maps field -> column ("" for none), ``constants`` field -> the value used
    where the file has none (``defaults``). Raises ValidationError naming the field for
    a column used twice, an unknown column, or a column that carries a field's name but
    was chosen for nothing (the importer reads such a column as that field whatever the
    mapping says).
    """
    names = {f.name for f in fields_of(kind)}
    mapping: dict[str, str] = {}
    for name, column in chosen.items():
        if not column:
            continue
        if name not in names:
            raise ValidationError(f"{name!r} is not a {kind.value} field")
        if column not in columns:
            raise ValidationError(f"field {name}: the file has no column {column!r}")
        if column in mapping:
            raise ValidationError(f"field {name}: column {column!r} already feeds "
                                  f"{mapping[column]}; a column feeds one field")
        mapping[column] = name
    for column in columns:
        if column in names and column not in mapping and column in chosen:
            raise ValidationError(
                f"field {column}: the file's column {column!r} is always read as {column}; "
                f"choose it for {column} or for another field, or rename it in the file")
    defaults = {name: value.strip() for name, value in constants.items()
                if value.strip() and name in names}
    return IngestOptions(columns={c: f for c, f in mapping.items() if c != f},
                         defaults=defaults)


def with_layout(options: IngestOptions, layout: Layout) -> IngestOptions:
    """The chosen delimiter as the import's own option (the readers split on it)."""
    if layout.fmt != "csv" or layout.delimiter is None:
        return options
    return options.model_copy(update={"delimiter": DELIMITERS[layout.delimiter]})


def dry_run(*, engine: Engine, settings: Settings, kind: Kind, path: Path, layout: Layout,
            options: IngestOptions) -> DryRun:
    """Import the whole file and roll back: the counts and the first rejected rows
    (row, field, value, reason), as the real import would report them."""
    with bulk_write_lock(engine):
        report = ingest_pipeline.ingest_file(
            kind=kind.value, path=path, mapping=with_layout(options, layout), dry_run=True,
            engine=engine, settings=settings, encoding=layout.encoding,
            label=_original_name(path))
    rejects, more = _first_rejects(report.reject_path)
    return DryRun(report=report, rejects=rejects, more_rejects=more)


def start_import(*, engine: Engine, settings: Settings, kind: Kind, path: Path,
                 layout: Layout, options: IngestOptions, strict: bool = False) -> int:
    """Start the mapped import in the background (as every upload does); its job id."""
    return background.start_import(engine=engine, settings=settings, kind=kind.value,
                                   path=path, options=with_layout(options, layout),
                                   strict=strict, encoding=layout.encoding)


def _first_rejects(path: Path | None) -> tuple[list[dict[str, str]], bool]:
    """The dry run's reject file, read and removed (nothing was imported to report)."""
    if path is None or not path.is_file():
        return [], False
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows: list[dict[str, str]] = []
            for row in csv.DictReader(handle):
                if len(rows) == DRY_RUN_REJECTS_SHOWN:
                    return rows, True
                rows.append({k: row.get(k) or "" for k in ("row", "field", "value", "reason")})
            return rows, False
    finally:
        path.unlink(missing_ok=True)


def _first_lines(handle: Iterable[str], count: int) -> list[str]:
    lines: list[str] = []
    for line in handle:
        if len(lines) == count:
            break
        if line.strip():
            lines.append(line)
    return lines


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _original_name(path: Path) -> str:
    return re.sub(r"^[0-9a-f]{32}-", "", path.name)


def chosen_layout(detected: Layout, *, encoding: str | None,
                  delimiter: str | None) -> Layout:
    """The detected layout with the person's corrections; unknown values are refused."""
    if encoding is not None and encoding not in ENCODINGS:
        raise ValidationError(f"encoding: {encoding!r} is not one of {', '.join(ENCODINGS)}")
    if delimiter is not None and delimiter not in DELIMITERS:
        raise ValidationError(f"delimiter: {delimiter!r} is not one of "
                              f"{', '.join(DELIMITERS)}")
    return Layout(fmt=detected.fmt, encoding=encoding or detected.encoding,
                  delimiter=(delimiter or detected.delimiter)
                  if detected.fmt == "csv" else None)
