"""Look at a file before importing it: how it reads, its first rows, a suggested mapping.

The dashboard's mapping step (and any client) calls :func:`preview_file` on an upload,
shows the detected delimiter, encoding and header with the first rows, lets the user
adjust the suggested mapping and constants, then runs ``ingest_file(..., dry_run=True)``
with the same :class:`~kithkin.imports.ingest.options.IngestOptions` before the real import.
Nothing here touches the store.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from kithkin.config import Settings, get_settings
from kithkin.errors import IngestError
from kithkin.imports.ingest.kinds import SPECS, Kind
from kithkin.imports.ingest.options import IngestOptions, load_preset
from kithkin.imports.ingest.pipeline import open_file
from kithkin.imports.ingest.prepare import plan_columns
from kithkin.imports.ingest.readers import FileSource, python_safe
from kithkin.imports.ingest.sniff import delimiter_label
from kithkin.imports.ingest.suggest import suggest_mapping, suggest_preset
from kithkin.imports.ingest.validate import Limits

PREVIEW_ROWS = 10

class FilePreview(BaseModel):
    """What :func:`preview_file` saw; every field is JSON-ready for a page or the API."""

    file: str
    format: str = Field(description="csv, parquet or jsonl.")
    encoding: str | None = Field(description="Text encoding used (None for Parquet).")
    delimiter: str | None = Field(
        description="',', ';', 'tab', '|' or 'whitespace' (None unless CSV-like text).")
    header: bool | None = Field(description="Whether the first row names the columns.")
    detected: list[str] = Field(
        description="Which of encoding, delimiter, header were detected, not given.")
    columns: list[str] = Field(description="Column names (column_1... without a header).")
    rows: list[list[str | None]] = Field(description="The first rows, as text.")
    suggested_preset: str | None = Field(
        description="A shipped preset whose column names the file carries.")
    suggested_mapping: dict[str, str] = Field(
        description="column -> field: the preset's, the options' and same-named columns.")
    missing_required: list[str] = Field(
        description="Required fields neither mapped nor set (give them with --set/--map).")
    ignored_columns: list[str] = Field(description="Columns the import would not use.")
    generated_order_ids: bool = Field(
        description="Transactions without an order id column: one order per customer "
                    "and timestamp, ids generated.")
    hint: str | None = Field(description="Why the file may be misread (one column...).")


def first_rows(source: FileSource, rows: int) -> list[list[str | None]]:
    """The first ``rows`` records of ``source`` as text, in its column order."""
    first: list[list[str | None]] = []
    for batch in source.batches():
        table = python_safe(batch.table.slice(0, rows - len(first)))
        for record in table.to_pylist():
            first.append([None if record.get(c) is None else str(record.get(c))
                          for c in source.columns])
        if len(first) >= rows:
            break
    return first


def preview_file(*, path: Path | str, kind: str, options: IngestOptions | None = None,
                 file_format: str | None = None, encoding: str | None = None,
                 rows: int = PREVIEW_ROWS, label: str | None = None,
                 settings: Settings | None = None) -> FilePreview:
    """Read the first ``rows`` rows of ``path`` the way an import would and suggest how
    to map them for ``kind``. Raises IngestError only when the file cannot be read at
    all (missing, empty, not Parquet...); a mapping that is not complete yet is
    described in ``missing_required``, not raised."""
    path = Path(path)
    options = options or IngestOptions()
    spec = SPECS[Kind(kind)]
    source = open_file(path=path, options=options, file_format=file_format,
                       encoding=encoding, label=label, batch_size=max(rows, 100))
    preset = suggest_preset(kind=kind, columns=source.columns)
    base = load_preset(preset, kind=kind).merged(options) if preset else options
    mapping = {**suggest_mapping(kind=kind, columns=source.columns, options=base)}
    suggested = base.model_copy(update={"columns": mapping})
    first = first_rows(source, rows)
    missing: list[str] = []
    ignored: list[str] = []
    generated = False
    try:
        plan = plan_columns(spec, source.columns, suggested, file=source.label,
                            limits=Limits.current(settings or get_settings()))
        ignored, generated = plan.ignored, plan.generate_order_id
    except IngestError:
        covered = set(mapping.values()) | set(suggested.constants) | set(suggested.defaults)
        generated = spec.kind is Kind.TRANSACTIONS and "order_id" not in covered
        missing = [name for name in spec.required if name not in covered
                   and not (generated and name == "order_id")]
        ignored = [c for c in source.columns if c not in mapping]
    layout = source.layout
    return FilePreview(
        file=source.label, format=source.fmt,
        encoding=None if source.fmt == "parquet" else source.encoding,
        delimiter=delimiter_label(layout.delimiter) if layout else None,
        header=layout.header if layout else None,
        detected=list(layout.guessed) if layout else (
            ["encoding"] if source.guessed_encoding else []),
        columns=source.columns, rows=first, suggested_preset=preset,
        suggested_mapping=mapping, missing_required=missing, ignored_columns=ignored,
        generated_order_ids=generated, hint=source.one_column_hint)
