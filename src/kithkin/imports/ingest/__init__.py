"""Ingestion: files and records into the store, validated, idempotent and crash-safe.

>>> from kithkin.imports.ingest import ingest_file
>>> report = ingest_file(kind="transactions", path="orders.csv")  # doctest: +SKIP
"""

from kithkin.imports.ingest.kinds import Kind
from kithkin.imports.ingest.options import IngestOptions, build_options, load_mapping_file
from kithkin.imports.ingest.pipeline import ingest_file, ingest_records
from kithkin.imports.ingest.preview import FilePreview, preview_file
from kithkin.imports.ingest.suggest import suggest_mapping
from kithkin.imports.schemas import ImportReport, RejectedRow

__all__ = [
    "FilePreview",
    "ImportReport",
    "IngestOptions",
    "Kind",
    "RejectedRow",
    "build_options",
    "ingest_file",
    "ingest_records",
    "load_mapping_file",
    "preview_file",
    "suggest_mapping",
]
