"""How to read one file: column mapping, constants, defaults and reading options.

A mapping file is small TOML so it can live next to the export it describes::

    [columns]
    "Order #" = "order_id"
    [set]                      # the same value on every row (like --set source=shop)
    source = "shop"
    [defaults]                 # used where the file's cell is missing or empty
    currency = "EUR"
    [options]
    timezone = "Europe/Paris"
    date_format = "%d.%m.%Y"
    day_first = true
    decimal_comma = true
    delimiter = "whitespace"   # , ; tab | whitespace (default: detected)
    header = false             # default: detected
    names = ["customer_external_id", "ordered_at", "quantity", "amount"]
    create_customers = true    # orders of unknown customers create them (id only)
    combine_rows = true        # rows sharing an order id are one order (line items)
    skip_statuses = ["failed"] # rows whose status is one of these are left out

Presets (``--preset shopify``) are mapping files shipped in ``kithkin/ingest/presets``;
they may carry a ``[preset]`` section naming the kind they are for.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kithkin.errors import ValidationError
from kithkin.imports.ingest.sniff import parse_delimiter

SECTIONS = {"columns", "set", "defaults", "options"}
PRESET_PACKAGE = "kithkin.imports.ingest.presets"


class IngestOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, str] = Field(default_factory=dict, description="source column -> field")
    constants: dict[str, str] = Field(default_factory=dict, description=(
        "field -> value on every row (--set); a file column of that field is ignored"))
    defaults: dict[str, str] = Field(
        default_factory=dict, description="field -> value used when missing or empty"
    )
    timezone: str = Field(default="UTC", description="Zone of naive date-times in the file.")
    date_format: str | None = Field(default=None, description="strptime format tried first.")
    day_first: bool = Field(default=True, description="01/03/2024 is 1 March (else 3 January).")
    decimal_comma: bool = Field(default=False, description="1.234,50 means 1234.50.")
    phone_region: str = Field(default="US", description="Region of phones without +country.")
    delimiter: str | None = Field(default=None, description=(
        "Field delimiter of a text file: ',', ';', tab, '|' or 'whitespace'; None: detected."))
    header: bool | None = Field(default=None, description=(
        "Whether the first row names the columns; None: detected."))
    names: list[str] | None = Field(default=None, description=(
        "Column names of a file without a header, in file order."))
    create_customers: bool = Field(default=False, description=(
        "Orders, interactions or memberships of an unknown customer create it (source and "
        "external id only) instead of being rejected."))
    combine_rows: bool = Field(default=False, description=(
        "Transactions: rows sharing an order id are one order (one row per line item, as "
        "Shopify exports): amounts, discounts and quantities add up."))
    skip_statuses: list[str] = Field(default_factory=list, description=(
        "Rows whose `status` is one of these (any case) are left out and counted as "
        "skipped, e.g. failed charges."))

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("delimiter")
    @classmethod
    def _known_delimiter(cls, value: str | None) -> str | None:
        try:
            return parse_delimiter(value)
        except ValidationError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("skip_statuses")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.strip().lower() for v in value if v.strip()]

    def with_mapping(self, pairs: list[str]) -> IngestOptions:
        """Add ``--map source_col=field`` pairs (they win over the mapping file)."""
        columns = dict(self.columns)
        for source, target in _pairs(pairs, "--map", "source_col=field"):
            columns[source] = target
        return self.model_copy(update={"columns": columns})

    def with_constants(self, pairs: list[str]) -> IngestOptions:
        """Add ``--set field=value`` constants (they win over the mapping file)."""
        constants = dict(self.constants)
        for name, value in _pairs(pairs, "--set", "field=value"):
            constants[name] = value
        return self.model_copy(update={"constants": constants})

    def updated(self, **changes: Any) -> IngestOptions:
        """A validated copy with ``changes`` (None values are left out)."""
        wanted = {k: v for k, v in changes.items() if v is not None}
        if not wanted:
            return self
        try:
            return IngestOptions.model_validate({**self.model_dump(), **wanted})
        except ValueError as exc:
            raise ValidationError(_first_error(exc)) from exc

    def merged(self, later: IngestOptions) -> IngestOptions:
        """``later`` on top of this one: its columns, constants and defaults win, and so
        do the options it sets explicitly."""
        explicit = later.model_dump(exclude_unset=True)
        return IngestOptions.model_validate({
            **self.model_dump(), **explicit,
            "columns": {**self.columns, **later.columns},
            "constants": {**self.constants, **later.constants},
            "defaults": {**self.defaults, **later.defaults},
        })


def build_options(*, kind: str, preset: str | None = None,
                  mapping: IngestOptions | None = None, columns: list[str] | None = None,
                  constants: list[str] | None = None, delimiter: str | None = None,
                  header: bool | None = None, names: str | list[str] | None = None,
                  create_customers: bool = False,
                  timezone: str | None = None,
                  skip_statuses: list[str] | None = None) -> IngestOptions:
    """The options of one import, as the CLI, the API and the dashboard take them: the
    preset, then the mapping file, then the explicit values (each refines the one before).

    ``columns`` are ``source_col=field`` pairs (``--map``), ``constants`` ``field=value``
    pairs (``--set``), ``names`` the column names of a header-less file (a list or one
    comma-separated text); ``delimiter`` None or ``auto`` means detected;
    ``skip_statuses`` (``--skip-status``) add to the preset's or mapping file's.
    """
    options = load_preset(preset, kind=kind) if preset else IngestOptions()
    if mapping is not None:
        options = options.merged(mapping)
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",")] if names.strip() else None
    options = options.updated(
        timezone=timezone, header=header, names=names,
        delimiter=None if delimiter is None or delimiter.strip().lower() == "auto"
        else delimiter,
        create_customers=create_customers or None,
        skip_statuses=[*options.skip_statuses, *skip_statuses] if skip_statuses else None)
    return options.with_mapping(columns or []).with_constants(constants or [])


def _pairs(pairs: list[str], flag: str, shape: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for pair in pairs:
        left, sep, right = pair.partition("=")
        if not sep or not left.strip() or not right.strip():
            raise ValidationError(f"{flag} expects {shape}, got {pair!r}")
        found.append((left.strip(), right.strip()))
    return found


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return f"{where}: {first.get('msg', exc)}" if where else str(first.get("msg", exc))
    return str(exc)


def _from_document(document: dict[str, Any], label: str, extra: frozenset[str] = frozenset()
                   ) -> IngestOptions:
    unknown = set(document) - SECTIONS - extra
    if unknown:
        raise ValidationError(f"mapping file {label}: unknown section(s) {sorted(unknown)}")
    try:
        return IngestOptions(
            columns={str(k): str(v) for k, v in document.get("columns", {}).items()},
            constants={str(k): str(v) for k, v in document.get("set", {}).items()},
            defaults={str(k): str(v) for k, v in document.get("defaults", {}).items()},
            **document.get("options", {}),
        )
    except ValueError as exc:
        raise ValidationError(f"mapping file {label}: {_first_error(exc)}") from exc


def load_mapping_file(path: Path) -> IngestOptions:
    """Read a TOML mapping file; unknown sections or options are errors, not ignored."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValidationError(f"mapping file {path}: {exc}") from exc
    return _from_document(document, str(path))


def preset_names() -> list[str]:
    """The mapping presets shipped with kithkin (``generic``, ``shopify``, ``stripe``...)."""
    folder = resources.files(PRESET_PACKAGE)
    return sorted(entry.name.removesuffix(".toml") for entry in folder.iterdir()
                  if entry.name.endswith(".toml"))


def load_preset(name: str, *, kind: str | None = None) -> IngestOptions:
    """The shipped mapping preset ``name``; raises when it does not exist or is for
    another kind than ``kind``."""
    names = preset_names()
    if name not in names:
        raise ValidationError(f"unknown preset {name!r} ({', '.join(names)})")
    text = resources.files(PRESET_PACKAGE).joinpath(f"{name}.toml").read_text("utf-8")
    document = tomllib.loads(text)
    meant_for = document.get("preset", {}).get("kind")
    if kind is not None and meant_for is not None and meant_for != kind:
        raise ValidationError(f"preset {name!r} is for {meant_for}, not {kind}")
    return _from_document(document, f"preset {name}", extra=frozenset({"preset"}))


def preset_description(name: str) -> str:
    text = resources.files(PRESET_PACKAGE).joinpath(f"{name}.toml").read_text("utf-8")
    return str(tomllib.loads(text).get("preset", {}).get("description", ""))
