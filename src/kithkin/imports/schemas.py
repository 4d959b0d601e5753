"""What an import reports, to the CLI summary, the Python API and the REST API."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    field_serializer,
    field_validator,
)

from kithkin.public_text import hide_paths


class RejectedRow(BaseModel):
    row: int = Field(description="1-based data row (header excluded) or record position.")
    field: str
    value: str | None
    reason: str
    kept: bool = Field(default=False, description=(
        "The row was imported; only this optional field was bad (kept as text)."))


class ImportReport(BaseModel):
    """Outcome of one import: every row read is written, superseded, added into another
    row's order, skipped or rejected."""

    job_id: int | None = Field(description="import_job row; None for a dry run.")
    kind: str
    file: str
    status: str
    dry_run: bool = False
    bulk: bool = Field(default=False, description=(
        "SQLite bulk-load mode: one transaction, secondary indexes rebuilt at the end."))
    rows_read: int = 0
    rows_written: int = Field(default=0, description="Accepted rows (inserted+updated+unchanged).")
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = Field(
        default=0, description="Rows superseded by a later row with the same natural key."
    )
    rows_rejected: int = 0
    fields_kept_as_text: int = Field(default=0, description=(
        "Bad optional fields (a date of birth like 1990-13-45, an unreadable phone) of "
        "imported rows: the value is kept as text and listed in the reject file."))
    reject_path: Path | None = None
    matched: dict[str, int] = Field(
        default_factory=dict, description="Customers joined by a matching rule (email, phone)."
    )
    ignored_columns: list[str] = Field(default_factory=list, description=(
        "Every input column that was not imported: not a field of the kind, a field "
        "already fed by another column, or a field given by --set."))
    attribute_columns: list[str] = Field(default_factory=list, description=(
        "Customers: input columns kept in each customer's attributes (not a field)."))
    column_hints: dict[str, str] = Field(default_factory=dict, description=(
        "Unused input columns that look like a field, column -> field: `--map "
        "COLUMN=FIELD` (or the mapping's [columns]) imports them as that field."))
    skipped: int = Field(default=0, description=(
        "Rows left out on purpose: their status is one of the options' skip_statuses "
        "(failed or voided payments)."))
    doubtful_statuses: dict[str, int] = Field(default_factory=dict, description=(
        "Imported transactions whose status names something other than a sale "
        "(refunded, cancelled, failed...), by status: they count as revenue unless "
        "left out with skip_statuses."))
    combined: int = Field(default=0, description=(
        "Rows added into another row's order (generated order ids, combine_rows)."))
    customers_created: int = Field(default=0, description=(
        "Customers created because rows named unknown ones (create_customers)."))
    layout: str | None = Field(default=None, description=(
        "How a text file was read: delimiter, encoding, header (detected or given)."))
    rejects: list[RejectedRow] = Field(
        default_factory=list, description="In-memory imports only: the rejected records."
    )
    elapsed_seconds: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0


class ImportJobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    filename: str
    file_sha256: str | None
    status: str
    dry_run: bool
    strict: bool
    rows_read: int
    rows_written: int
    rows_rejected: int
    reject_path: str | None
    ignored_columns: list[str] = Field(default_factory=list, description=(
        "Input columns that were not imported."))
    error: str | None
    started_at: datetime
    finished_at: datetime | None

    @field_serializer("filename", "reject_path", "error")
    def _without_server_paths(self, value: str | None) -> str | None:
        """Clients see file names, not where they are on the server (the service keeps
        the full paths on the model)."""
        return None if value is None else hide_paths(value)

    @field_validator("ignored_columns", mode="before")
    @classmethod
    def _none_is_empty(cls, value: list[str] | None) -> list[str]:
        return value or []
