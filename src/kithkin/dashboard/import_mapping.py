"""The dashboard's column-mapping step for an uploaded file: read its layout (encoding,
delimiter), preview its first rows, suggest which column feeds which field, turn the
person's choices into an :class:`~kithkin.imports.ingest.options.IngestOptions` (``columns`` and
``defaults``), dry-run it, then import.

Everything here goes through the ingest API (``ingest_file`` with a mapping, dry runs,
:func:`kithkin.jobs.background.start_import`), so the mapped import is the same import
the CLI runs with ``--map``. The layout is detected and the preview read by the import's
own sniffing and reader (:mod:`kithkin.imports.ingest.sniff`, ``open_file``), and the
delimiter chosen here goes to the import as its ``delimiter`` option, so the page shows
the file exactly as it will be imported.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from kithkin.config import Settings
from kithkin.database.writelock import bulk_write_lock
from kithkin.errors import KithkinError, ValidationError
from kithkin.imports.ingest import pipeline as ingest_pipeline
from kithkin.imports.ingest import sniff
from kithkin.imports.ingest.kinds import SPECS, FieldSpec, Kind
from kithkin.imports.ingest.options import IngestOptions
from kithkin.imports.ingest.pipeline import open_file
from kithkin.imports.ingest.preview import first_rows
from kithkin.imports.ingest.readers import detect_format
from kithkin.imports.schemas import ImportReport
from kithkin.jobs import background

PREVIEW_ROWS = 10
DRY_RUN_REJECTS_SHOWN = 50
ENCODINGS = {"utf-8": "UTF-8", "utf-16": "UTF-16", "cp1252": "Windows-1252",
             "latin-1": "Latin-1 (ISO-8859-1)"}
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|",
              "whitespace": sniff.WHITESPACE}
_DELIMITER_NAMES = {value: name for name, value in DELIMITERS.items()}
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
    """The file's format and, for text, its encoding and delimiter, detected as the import
    itself detects them (:mod:`kithkin.imports.ingest.sniff`)."""
    fmt = detect_format(path)
    if fmt == "parquet":
        return Layout(fmt=fmt, encoding="utf-8", delimiter=None)
    encoding = sniff.detect_encoding(path)
    if fmt != "csv":
        return Layout(fmt=fmt, encoding=encoding, delimiter=None)
    found = sniff.detect_delimiter(sniff.sample_text(path, encoding))
    return Layout(fmt=fmt, encoding=encoding, delimiter=_DELIMITER_NAMES[found])


def read_preview(path: Path, layout: Layout, *, rows: int = PREVIEW_ROWS) -> Preview:
    """The columns and the first ``rows`` rows, read by the import's own reader as
    ``layout`` says; raises ValidationError naming the file when it cannot be read so."""
    try:
        source = open_file(path=path, options=with_layout(IngestOptions(), layout),
                           file_format=layout.fmt,
                           encoding=None if layout.fmt == "parquet" else layout.encoding,
                           label=_original_name(path), batch_size=max(rows, 100))
        first = first_rows(source, rows)
    except KithkinError as exc:
        raise ValidationError(f"{_original_name(path)}: cannot be read as {layout.fmt} in "
                              f"{layout.encoding}: {exc}") from exc
    return Preview(list(source.columns), [[_text(v) for v in row] for row in first])


def fields_of(kind: Kind) -> tuple[FieldSpec, ...]:
    return SPECS[kind].fields


def suggest_mapping(kind: Kind, columns: list[str]) -> dict[str, str]:
    """Field -> the file column that most likely feeds it: the column named as the
    field, else the same name in other case or spacing, else a common synonym. Each
    column feeds one field at most."""
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
    """The person's choices as ingest options.

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
