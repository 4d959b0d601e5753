"""The matching table: one row per live customer, fields cleaned for comparison.

Anything empty or malformed becomes NULL, which Splink treats as "no evidence" rather
than as a disagreement, so a record with a broken email is still matched on its name and
address. The counts of such fields go into the run report.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from kithkin.config import Settings
from kithkin.identity.nicknames import canonical_given_name
from kithkin.identity.normalize import normalize_email, normalize_phone

MATCH_COLUMNS = (
    "unique_id", "first_name", "last_name", "full_name", "dob", "email", "phone",
    "address", "address2", "postcode", "city", "region", "initials", "name_sounds",
    "first_sound", "last_sound", "last_sound_rev", "first_canonical", "postcode_head",
    "postcode_tail",
)
_NOT_LETTERS = re.compile(r"[^a-z' -]+")
_NOT_WORDS = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")
_STREET_WORDS = {
    "street": "st", "road": "rd", "avenue": "ave", "lane": "ln", "drive": "dr",
    "place": "pl", "court": "ct", "boulevard": "blvd", "square": "sq", "apartment": "apt",
    "strasse": "str", "straße": "str",
}
_SOUNDEX_CODES = {
    **dict.fromkeys("bfpv", "1"), **dict.fromkeys("cgjkqsxz", "2"), **dict.fromkeys("dt", "3"),
    "l": "4", **dict.fromkeys("mn", "5"), "r": "6",
}


def _ascii_lower(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@lru_cache(maxsize=500_000)
def clean_name(value: str | None) -> str | None:
    """Lower-case ASCII letters, apostrophes, hyphens and single spaces; None if nothing."""
    if value is None:
        return None
    cleaned = _SPACES.sub(" ", _NOT_LETTERS.sub(" ", _ascii_lower(value))).strip(" -'")
    return cleaned or None


def clean_address(value: str | None) -> str | None:
    if value is None:
        return None
    words = _NOT_WORDS.sub(" ", _ascii_lower(value)).split()
    cleaned = " ".join(_STREET_WORDS.get(w, w) for w in words)
    return cleaned or None


@lru_cache(maxsize=500_000)
def clean_postcode(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = re.sub(r"[^A-Z0-9]", "", _ascii_lower(value).upper())
    return cleaned or None


@lru_cache(maxsize=500_000)
def soundex(name: str | None) -> str | None:
    """American Soundex (Russell 1918): a surname key that survives most typos."""
    if not name:
        return None
    letters = [c for c in name if "a" <= c <= "z"]
    if not letters:
        return None
    code, previous = letters[0].upper(), _SOUNDEX_CODES.get(letters[0], "")
    for c in letters[1:]:
        digit = _SOUNDEX_CODES.get(c, "")
        if digit and digit != previous:
            code += digit
        if c not in "hw":
            previous = digit
    return (code + "000")[:4]


def _pair_key(a: str | None, b: str | None) -> str | None:
    """Order-free key of two parts, so swapped first and last names share it."""
    parts = sorted(p for p in (a, b) if p)
    return "|".join(parts) if parts else None


@dataclass
class FieldReport:
    """What could not count as evidence, per field (the run report)."""

    records: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n


def _email_key(raw: str | None, stored: str | None, report: FieldReport,
               settings: Settings) -> str | None:
    if stored:
        return stored
    if raw is None or not raw.strip():
        report.add("missing_email")
        return None
    key = normalize_email(raw, provider_rules=settings.identity_email_provider_rules)
    if key is None:
        report.add("malformed_email")
    return key


def _phone_key(
    raw: str | None, stored: str | None, country: str | None, report: FieldReport,
    settings: Settings,
) -> str | None:
    if stored:
        return stored
    if raw is None or not raw.strip():
        report.add("missing_phone")
        return None
    # A national number (no +country) is read in the customer's own country if known.
    key = normalize_phone(raw, default_region=country or settings.identity_phone_region)
    if key is None:
        report.add("malformed_phone")
    return key


def row_features(row: Any, report: FieldReport, settings: Settings) -> tuple[Any, ...]:
    first, last = clean_name(row.first_name), clean_name(row.last_name)
    if first is None and last is None:
        report.add("no_name")
    dob = _dob_text(row.date_of_birth, row.date_of_birth_raw)
    if dob is None:
        report.add("missing_dob")
    postcode = clean_postcode(row.postcode)
    if postcode is None:
        report.add("missing_postcode")
    return (
        row.id, first, last,
        f"{first} {last}" if first and last else None,
        dob,
        _email_key(row.email, row.email_normalized, report, settings),
        _phone_key(row.phone, row.phone_e164, row.country, report, settings),
        clean_address(row.address_line), clean_address(row.address_line2), postcode,
        clean_name(row.city), clean_name(row.region),
        _pair_key(first[:1] if first else None, last[:1] if last else None),
        _pair_key(soundex(first), soundex(last)), soundex(first), soundex(last),
        soundex(last[::-1]) if last else None, canonical_given_name(first),
        *_postcode_keys(postcode),
    )


def _postcode_keys(postcode: str | None) -> tuple[str | None, str | None]:
    """Two blocking keys that two neighbouring characters swapped leave intact: the
    characters in sorted order, with the first two or with the last two as written.

    A swap inside the last ``len - 2`` characters keeps the first two; one inside the
    first ``len - 2`` keeps the last two, so at least one key survives any single swap in
    a code of five or more. The written ends keep the blocks as small as the postcode's.
    """
    if not postcode:
        return None, None
    letters = "".join(sorted(postcode))
    return f"{postcode[:2]}|{letters}", f"{postcode[-2:]}|{letters}"


def _dob_text(parsed: date | str | None, raw: str | None) -> str | None:
    """ISO date text; for an impossible date kept as imported, its digits in that shape.

    "1990-13-45" is no date, but it is one edit from "1990-12-45"... and from the true
    "1990-03-15" by a transposition: the comparison works on this text.
    """
    if parsed is not None:
        return parsed if isinstance(parsed, str) else parsed.isoformat()  # SQLite: ISO text
    text = (raw or "").strip()
    if _DAY_FIRST.match(text):  # 31/12/1990, 31.12.1990
        day, month, year = re.split(r"\D", text)
        return f"{year}-{int(month):02d}-{int(day):02d}"
    if _YEAR_FIRST.match(text):  # 1990-13-45
        year, month, day = re.split(r"\D", text)
        return f"{year}-{int(month):02d}-{int(day):02d}"
    digits = re.sub(r"\D", "", text)
    if len(digits) != 8:
        return None
    # Bare digits: year first unless only the last four can be a year (19901345 is
    # year-first with month 13, not the 19th of month 90).
    if not _YEAR.match(digits[:4]) and _YEAR.match(digits[4:]):  # DDMMYYYY
        digits = digits[4:] + digits[2:4] + digits[:2]
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"


_DAY_FIRST = re.compile(r"^\d{1,2}\D\d{1,2}\D\d{4}$")
_YEAR_FIRST = re.compile(r"^\d{4}\D\d{1,2}\D\d{1,2}$")
_YEAR = re.compile(r"^(18|19|20)\d\d$")


_LIVE_CUSTOMERS = text(
    "SELECT id, first_name, last_name, email, email_normalized, phone, phone_e164, "
    "date_of_birth, date_of_birth_raw, address_line, address_line2, postcode, city, "
    "region, country FROM customer "
    "WHERE merged_into_id IS NULL AND erased_at IS NULL ORDER BY id"
)


def load_match_table(
    *, session: Session, settings: Settings, progress: Callable[[int], None] | None = None,
    batch: int = 50_000,
) -> tuple[pd.DataFrame, FieldReport]:
    """Read every live (not merged, not erased) customer into the matching table;
    emails and phones not normalised on import are keyed by the rules of ``settings``.

    Plain SQL without ORM type processing: at a million rows the per-value conversions
    cost more than the cleaning itself.
    """
    report = FieldReport()
    rows: list[tuple[Any, ...]] = []
    result = session.execute(_LIVE_CUSTOMERS.execution_options(yield_per=batch))
    for part in result.partitions(batch):
        rows.extend(row_features(r, report, settings) for r in part)
        if progress is not None:
            progress(len(part))
    report.records = len(rows)
    frame = pd.DataFrame.from_records(rows, columns=list(MATCH_COLUMNS))
    frame["unique_id"] = frame["unique_id"].astype("int64")
    for name in MATCH_COLUMNS[1:]:
        frame[name] = frame[name].astype(object)
    return frame, report
