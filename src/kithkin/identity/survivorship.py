"""Survivorship: which of two duplicate records' values the golden record keeps.

Fields travel in groups (an address is kept whole, an email with its normalised key) so a
golden record never mixes the street of one record with the postcode of the other. Each
group has a rule:

- ``recent``: the most recently updated record's non-empty value (contact data goes stale);
- ``complete``: the value with the most non-empty parts, then the longest ("J" < "John");
- ``source``: the value from the record whose best source ranks first in
  ``settings.identity_source_priority`` (a system of record), falling back to ``recent``.

Acquisition keeps the earliest (a merged customer was acquired when first seen), and the
free-form ``attributes`` are united with the more recent record winning key clashes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from kithkin.errors import ConfigurationError

Rule = Literal["recent", "complete", "source"]

FIELD_GROUPS: dict[str, tuple[str, ...]] = {
    "first_name": ("first_name",),
    "last_name": ("last_name",),
    "company": ("company",),
    "email": ("email", "email_normalized"),
    "phone": ("phone", "phone_e164"),
    "date_of_birth": ("date_of_birth", "date_of_birth_raw"),
    "address": ("address_line", "address_line2", "city", "region", "postcode", "country"),
    "account_manager": ("account_manager_id",),
}
DEFAULT_RULES: dict[str, Rule] = {
    "first_name": "complete",
    "last_name": "complete",
    "company": "recent",
    "email": "recent",
    "phone": "recent",
    "date_of_birth": "complete",
    "address": "recent",
    "account_manager": "recent",  # assigning one stamps updated_at: the latest wins
}
_RULES = frozenset({"recent", "complete", "source"})


def _filled(row: Mapping[Any, Any], columns: Sequence[str]) -> int:
    return sum(1 for c in columns if row[c] not in (None, ""))


def _length(row: Mapping[Any, Any], columns: Sequence[str]) -> int:
    return sum(len(str(row[c])) for c in columns if row[c] not in (None, ""))


def _updated(row: Mapping[Any, Any]) -> datetime:
    value: datetime = row["updated_at"]
    return value


def resolve_rules(
    overrides: Mapping[str, str], *, source_priority: Sequence[str]
) -> dict[str, Rule]:
    """Default rules, ``source`` everywhere if a priority is set, then explicit overrides."""
    rules: dict[str, Rule] = {
        group: ("source" if source_priority else rule) for group, rule in DEFAULT_RULES.items()
    }
    for group, rule in overrides.items():
        if group not in FIELD_GROUPS or rule not in _RULES:
            raise ConfigurationError(
                f"identity_survivorship: {group}={rule!r}; groups are {sorted(FIELD_GROUPS)}, "
                f"rules {sorted(_RULES)}"
            )
        rules[group] = rule  # type: ignore[assignment]
    return rules


def golden_values(
    survivor: Mapping[Any, Any],
    merged: Mapping[Any, Any],
    *,
    rules: Mapping[str, Rule],
    source_rank: Mapping[int, int],
) -> dict[str, Any]:
    """Column values for the survivor row that make it the golden record.

    ``source_rank`` maps each customer id to the rank of its best source (lower wins).
    Ties keep the survivor's value, so merging identical records changes nothing.
    """
    newer, older = (
        (merged, survivor) if _updated(merged) > _updated(survivor) else (survivor, merged)
    )
    values: dict[str, Any] = {}
    for group, columns in FIELD_GROUPS.items():
        candidates = [r for r in (survivor, merged) if _filled(r, columns)]
        if not candidates:
            continue
        rule = rules.get(group, "recent")
        if rule == "complete":
            best = max(candidates, key=lambda r: (_filled(r, columns), _length(r, columns)))
        elif rule == "source" and source_rank[survivor["id"]] != source_rank[merged["id"]]:
            best = min(candidates, key=lambda r: source_rank[r["id"]])
        else:
            best = newer if any(r is newer for r in candidates) else candidates[0]
        for column in columns:
            values[column] = best[column]
    acquired = [r for r in (survivor, merged) if r["acquired_at"] is not None]
    if acquired:
        first = min(acquired, key=lambda r: r["acquired_at"])
        values["acquired_at"] = first["acquired_at"]
        values["acquisition_source"] = first["acquisition_source"]
    if survivor["attributes"] or merged["attributes"]:
        values["attributes"] = {**(older["attributes"] or {}), **(newer["attributes"] or {})}
    return {k: v for k, v in values.items() if v != survivor[k]}
