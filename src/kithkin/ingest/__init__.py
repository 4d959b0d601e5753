"""Ingestion: files and records into the store, validated, idempotent and crash-safe.

>>> from kithkin.ingest import ingest_file
>>> report = ingest_file(kind="transactions", path="orders.csv")  # doctest: +SKIP
"""

from kithkin.imports.schemas import ImportReport, RejectedRow
from kithkin.ingest.kinds import Kind
from kithkin.ingest.options import IngestOptions, load_mapping_file
from kithkin.ingest.pipeline import ingest_file, ingest_records

__all__ = [
    "ImportReport",
    "IngestOptions",
    "Kind",
    "RejectedRow",
    "ingest_file",
    "ingest_records",
    "load_mapping_file",
]
