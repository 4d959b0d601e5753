"""How to read one file: column mapping, defaults and coercion options.

A mapping file is small TOML so it can live next to the export it describes::

    [columns]
    "Order #" = "order_id"
    [defaults]
    source = "shop"
    [options]
    timezone = "Europe/Paris"
    date_format = "%d.%m.%Y"
    day_first = true
    decimal_comma = true
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kithkin.errors import ValidationError


class IngestOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, str] = Field(default_factory=dict, description="source column -> field")
    defaults: dict[str, str] = Field(
        default_factory=dict, description="field -> value used when missing or empty"
    )
    timezone: str = Field(default="UTC", description="Zone of naive date-times in the file.")
    date_format: str | None = Field(default=None, description="strptime format tried first.")
    day_first: bool = Field(default=True, description="01/03/2024 is 1 March (else 3 January).")
    decimal_comma: bool = Field(default=False, description="1.234,50 means 1234.50.")
    phone_region: str = Field(default="US", description="Region of phones without +country.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    def with_mapping(self, pairs: list[str]) -> IngestOptions:
        """Add ``--map source_col=field`` pairs (they win over the mapping file)."""
        columns = dict(self.columns)
        for pair in pairs:
            source, sep, target = pair.partition("=")
            if not sep or not source.strip() or not target.strip():
                raise ValidationError(f"--map expects source_col=field, got {pair!r}")
            columns[source.strip()] = target.strip()
        return self.model_copy(update={"columns": columns})


def load_mapping_file(path: Path) -> IngestOptions:
    """Read a TOML mapping file; unknown sections or options are errors, not ignored."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValidationError(f"mapping file {path}: {exc}") from exc
    unknown = set(document) - {"columns", "defaults", "options"}
    if unknown:
        raise ValidationError(f"mapping file {path}: unknown section(s) {sorted(unknown)}")
    try:
        return IngestOptions(
            columns={str(k): str(v) for k, v in document.get("columns", {}).items()},
            defaults={str(k): str(v) for k, v in document.get("defaults", {}).items()},
            **document.get("options", {}),
        )
    except ValueError as exc:
        raise ValidationError(f"mapping file {path}: {exc}") from exc
