"""Which field a column of a file is probably for, from the names the shipped presets know.

The preview suggests a mapping with it, and an import that misses a required field names
the column that looks like it, so a shop export's ``customer_id`` is one ``--map`` away.
"""

from __future__ import annotations

import re

from kithkin.errors import ValidationError
from kithkin.imports.ingest.kinds import SPECS, Kind
from kithkin.imports.ingest.options import IngestOptions, load_preset, preset_names

MIN_PRESET_MATCHES = 3
"""A preset is suggested only when this many of its column names are in the file."""


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def suggest_preset(*, kind: str, columns: list[str]) -> str | None:
    """The shipped preset for ``kind`` most of whose column names the file has."""
    best, best_hits = None, 0
    present = {_normal(c) for c in columns}
    for name in preset_names():
        try:
            preset = load_preset(name, kind=kind)
        except ValidationError:
            continue
        hits = sum(_normal(c) in present for c in preset.columns)
        if hits >= MIN_PRESET_MATCHES and hits > best_hits:
            best, best_hits = name, hits
    return best


def suggest_mapping(*, kind: str, columns: list[str],
                    options: IngestOptions | None = None) -> dict[str, str]:
    """column -> field for the columns kithkin can place: the options' own mapping,
    then a field of the same name (ignoring case and punctuation), then the synonyms
    the presets know (``Order ID``, ``Customer Email``...)."""
    spec = SPECS[Kind(kind)]
    fields = {_normal(f): f for f in spec.field_by_name}
    synonyms: dict[str, str] = {}
    for name in preset_names():
        try:
            preset = load_preset(name, kind=kind)
        except ValidationError:
            continue
        for column, target in preset.columns.items():
            synonyms.setdefault(_normal(column), target)
    given = options.columns if options else {}
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        found = given.get(column) or fields.get(_normal(column)) or synonyms.get(
            _normal(column))
        if found and found not in taken and found in spec.field_by_name:
            mapping[column] = found
            taken.add(found)
    return mapping
