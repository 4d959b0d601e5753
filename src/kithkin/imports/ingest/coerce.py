"""Vectorised type coercion: one Arrow array in, typed values and per-row errors out.

Every function returns ``(values, errors)``: ``values`` holds NULL where the input was
empty or bad, ``errors`` is a string array holding the reason for bad cells and NULL
elsewhere, so a bad cell is never silently turned into an empty one. The common case (a
clean, consistently formatted column) runs entirely in Arrow compute kernels; the slower
per-format and per-element paths only see what the fast path could not parse.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from kithkin.identity.normalize import normalize_email, normalize_phone
from kithkin.imports.ingest.options import IngestOptions

Coerced = tuple[pa.Array, pa.Array]

UTC_US = pa.timestamp("us", tz="UTC")
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
# A comma that can only be a decimal one: one comma not followed by a group of three
# digits (10,5 10,50 0,1234), or after dot-grouped thousands (1.234,50). "1,234" stays
# one thousand two hundred and thirty-four unless the options say decimal_comma.
_DECIMAL_COMMA = r"^[+-]?(\d+,(\d{1,2}|\d{4,})|\d{1,3}(\.\d{3})+,\d+)$"
# ISO currency code before or after the amount: upper case, or separated by a space.
_CURRENCY_CODE = r"^\s*([A-Z]{3}|[A-Za-z]{3}\s)|(\s[A-Za-z]{3}|[A-Z]{3})\s*$"
_SYMBOLS = r"[\s\$€£¥\x{a0}\x{202f}']"
_HAS_OFFSET = r"\d:\d\d(:\d\d(\.\d+)?)?\s?(Z|[+-]\d\d(:?\d\d)?)$"
_FIELD_PATTERNS = {"%Y": r"(?P<Y>\d{4})", "%m": r"(?P<m>\d{1,2})", "%d": r"(?P<d>\d{1,2})"}
_OFFSET_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z")
_ISO_NAIVE = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M",
              "%Y-%m-%d", "%Y%m%d")
_CONSENT_SYNONYMS = {
    "granted": "granted", "yes": "granted", "y": "granted", "true": "granted", "1": "granted",
    "opt_in": "granted", "opted_in": "granted", "subscribed": "granted",
    "denied": "denied", "no": "denied", "n": "denied", "false": "denied", "0": "denied",
    "opted_out": "opted_out", "opt_out": "opted_out", "unsubscribed": "opted_out",
}


def as_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Trimmed strings with empty cells as NULL: an empty cell means 'no value'."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        if pa.types.is_nested(array.type):
            array = pa.array([None if v is None else json.dumps(v, default=str)
                              for v in array.to_pylist()], pa.string())
        elif pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
            # Parquet bytes: text when they are UTF-8; shown with U+FFFD marks otherwise.
            array = pa.array([None if v is None else v.decode("utf-8", "replace")
                              for v in array.to_pylist()], pa.string())
        else:
            array = pc.cast(array, pa.string())
    trimmed = pc.utf8_trim_whitespace(pc.cast(array, pa.string()))
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def errors_where(bad: pa.Array, reason: str) -> pa.Array:
    return pc.if_else(pc.fill_null(bad, False), pa.scalar(reason), pa.scalar(None, pa.string()))


def _unparsed(text: pa.Array, values: pa.Array) -> pa.Array:
    return pc.and_(pc.is_valid(text), pc.is_null(values))


def to_text(values: pa.Array, *, upper: bool = False) -> Coerced:
    text = as_text(values)
    if upper:
        text = pc.utf8_upper(text)
    return text, pa.nulls(len(text), pa.string())


def to_number(values: pa.Array, options: IngestOptions, *, integer: bool = False,
              cents: bool = False, bound: float | None = None) -> Coerced:
    """Decimals with currency symbols or codes, thousands separators, optional comma.

    Only finite values of magnitude below ``bound`` (the column's range: 1e16 for a
    Numeric(18, 2)) are accepted: ``1e309`` would be stored as infinity, ``1e20`` would
    overflow PostgreSQL's column and fail the whole batch there.
    """
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        numbers = pc.cast(array, pa.float64(), safe=False)  # beyond 2**53: nearest float
        text: pa.Array = pc.cast(array, pa.string())
    else:
        text = as_text(array)
        cleaned = pc.replace_substring_regex(
            pc.replace_substring_regex(text, _CURRENCY_CODE, ""), _SYMBOLS, "")
        comma_decimal = pc.replace_substring(pc.replace_substring(cleaned, ".", ""), ",", ".")
        if options.decimal_comma:
            cleaned = comma_decimal
        else:
            # "10,50" and "1.234,50" say their comma is the decimal one; stripping it as a
            # thousands separator read a European export's 10,50 as 1050
            cleaned = pc.if_else(pc.match_substring_regex(cleaned, _DECIMAL_COMMA),
                                 comma_decimal, pc.replace_substring(cleaned, ",", ""))
        valid = pc.match_substring_regex(cleaned, _NUMBER)
        numbers = pc.cast(pc.if_else(valid, cleaned, pa.scalar(None, pa.string())), pa.float64())
    errors = errors_where(_unparsed(text, numbers), "not a number")
    no_number = pa.scalar(None, pa.float64())
    infinite = pc.invert(pc.is_finite(numbers))
    errors = pc.coalesce(errors, errors_where(infinite, "not a finite number"))
    numbers = pc.if_else(pc.fill_null(infinite, False), no_number, numbers)
    if integer and bound is None:
        bound = 2.0**63  # int64
    if bound is not None:
        outside = pc.fill_null(pc.greater_equal(pc.abs(numbers), bound), False)
        errors = pc.coalesce(errors, errors_where(
            outside, f"out of range: the column holds numbers below {bound:,.0f} in magnitude"))
        numbers = pc.if_else(outside, no_number, numbers)
    if cents:  # after the range check: rounding 1e308 overflows Arrow's kernel
        numbers = _to_cents(numbers)
    if integer:
        whole = pc.equal(pc.floor(numbers), numbers)
        errors = pc.coalesce(errors, errors_where(pc.invert(whole), "not a whole number"))
        numbers = pc.cast(pc.if_else(whole, numbers, no_number), pa.int64())
    return numbers, errors


def _to_cents(numbers: pa.Array) -> pa.Array:
    """Round to cents; a magnitude that cannot be scaled (above 1e306, possible only
    where the field has no range bound) is left as it is rather than overflowing."""
    scalable = pc.fill_null(pc.less(pc.abs(numbers), 1e306), True)
    return pc.if_else(scalable, pc.round(pc.if_else(scalable, numbers, 0.0), 2), numbers)


def _naive_formats(options: IngestOptions) -> list[str]:
    dmy = ("%d", "%m") if options.day_first else ("%m", "%d")
    local = [f"{dmy[0]}{sep}{dmy[1]}{sep}%Y{time}"
             for sep in ("/", ".", "-") for time in ("", " %H:%M", " %H:%M:%S")]
    return ([options.date_format] if options.date_format else []) + list(_ISO_NAIVE) + local


def _localise(naive: pa.Array, options: IngestOptions) -> pa.Array:
    if options.timezone == "UTC":
        return pc.cast(pc.cast(naive, pa.timestamp("us")), UTC_US)
    return pc.cast(pc.assume_timezone(pc.cast(naive, pa.timestamp("us")),
                                      timezone=options.timezone,
                                      ambiguous="earliest", nonexistent="latest"), UTC_US)


def _parse_python(text: str, options: IngestOptions) -> datetime | None:
    """Last resort for what Arrow's strict formats miss (fractions with an offset...)."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(options.timezone))
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted out of datetime's range
        return None


_MICROS = {"s": 1_000_000, "ms": 1_000, "us": 1}
_FIRST_US = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
_END_US = 253_402_300_800_000_000  # 10000-01-01T00:00:00Z


def _typed_micros(array: pa.Array) -> Coerced:
    """Microseconds since the epoch of a timestamp or date array, within years 1-9999.

    Checked in the array's own unit before scaling: a Parquet timestamp in seconds far
    out of range would overflow the conversion (and Python's datetime when read back).
    """
    if pa.types.is_timestamp(array.type):
        raw, unit = array.view(pa.int64()), str(array.type.unit)
    elif pa.types.is_date32(array.type):
        raw, unit = pc.cast(array.view(pa.int32()), pa.int64()), "d"
    else:
        raw, unit = array.view(pa.int64()), "ms"
    if unit == "ns":
        micros = pc.divide(raw, 1_000)
        inside = pc.and_(pc.greater_equal(micros, _FIRST_US), pc.less(micros, _END_US))
    else:
        factor = 86_400_000_000 if unit == "d" else _MICROS[unit]
        inside = pc.and_(pc.greater_equal(raw, -(-_FIRST_US // factor)),
                         pc.less(raw, _END_US // factor))
        micros = pc.multiply(pc.if_else(inside, raw, pa.scalar(None, pa.int64())), factor)
    kept = pc.if_else(inside, micros, pa.scalar(None, pa.int64()))
    return kept, errors_where(pc.invert(inside), "date-time out of range (years 1 to 9999)")


def _field_pattern(match: re.Match[str]) -> str:
    return _FIELD_PATTERNS.get(match.group(0), ".*?")


def _strptime(text: pa.Array, fmt: str) -> pa.Array:
    """``strptime`` that refuses what C strptime rolls over (30 February -> 1 March).

    The day as written must be the day parsed; both are compared without leaving Arrow.
    """
    parsed = pc.strptime(text, format=fmt, unit="us", error_is_null=True)
    fields = re.findall(r"%[A-Za-z]", fmt)
    if "%d" not in fields:
        return parsed
    pattern = "^" + re.sub(r"%[A-Za-z]", _field_pattern, re.escape(fmt))
    groups = [f for f in fields if f in _FIELD_PATTERNS]
    written = pc.struct_field(pc.extract_regex(text, pattern), groups.index("%d"))
    same_day = pc.equal(pc.cast(written, pa.int64()), pc.day(parsed))
    return pc.if_else(pc.fill_null(same_day, False), parsed, pa.scalar(None, parsed.type))


def to_datetime(values: pa.Array, options: IngestOptions) -> Coerced:
    """ISO 8601 with or without offset, local day-first/month-first dates, epoch seconds.

    Naive values are read in ``options.timezone`` and everything comes out as UTC.
    """
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_timestamp(array.type) or pa.types.is_date(array.type):
        micros, errors = _typed_micros(array)
        if pa.types.is_timestamp(array.type) and array.type.tz:
            return pc.cast(micros, UTC_US), errors
        return _localise(pc.cast(micros, pa.timestamp("us")), options), errors
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        # A number is a date-time only as epoch seconds with 9 to 11 digits, like text:
        # 20240301 (a date written as a number) must not become 1970-08-23.
        seconds = pc.cast(array, pa.float64(), safe=False)
        epoch = pc.and_(pc.greater_equal(seconds, 1e8), pc.less(seconds, 1e11))
        kept = pc.if_else(epoch, seconds, pa.scalar(None, pa.float64()))
        micros = pc.cast(pc.floor(pc.multiply(kept, 1_000_000)), pa.int64())
        return pc.cast(micros, UTC_US), errors_where(
            pc.invert(epoch), "a number is read as a date-time only as epoch seconds "
            "(9 to 11 digits); store dates as timestamps or ISO 8601 text")
    text = as_text(array)
    try:
        return pc.cast(text, UTC_US), pa.nulls(len(text), pa.string())
    except pa.ArrowInvalid:
        pass  # not all with an offset
    # Arrow's naive cast would silently apply an offset; only take it when there is none.
    if not pc.any(pc.match_substring_regex(text, _HAS_OFFSET)).as_py():
        try:
            return _localise(text, options), pa.nulls(len(text), pa.string())
        except pa.ArrowInvalid:
            pass  # not all plain ISO 8601: try format by format
    result = pa.nulls(len(text), UTC_US)
    for fmt in _OFFSET_FORMATS:
        parsed = _strptime(text, fmt)
        result = pc.coalesce(result, pc.cast(parsed, UTC_US))
    for fmt in _naive_formats(options):
        if not pc.any(_unparsed(text, result)).as_py():
            break
        result = pc.coalesce(result, _localise(_strptime(text, fmt), options))
    epoch = pc.match_substring_regex(text, r"^\d{9,11}(\.\d+)?$")
    seconds = pc.cast(pc.if_else(epoch, text, pa.scalar(None, pa.string())), pa.float64())
    result = pc.coalesce(result, pc.cast(pc.cast(pc.multiply(seconds, 1_000_000), pa.int64()),
                                         UTC_US))
    missing = _unparsed(text, result)
    if pc.any(missing).as_py():
        strings = text.to_pylist()
        fallback = [(_parse_python(s, options) if bad and s is not None else None)
                    for s, bad in zip(strings, missing.to_pylist(), strict=True)]
        result = pc.coalesce(result, pa.array(fallback, UTC_US))
    reason = ("not a date-time: use ISO 8601 (2024-03-01T10:00:00+01:00), "
              f"{'DD/MM/YYYY' if options.day_first else 'MM/DD/YYYY'} or epoch seconds")
    return result, errors_where(_unparsed(text, result), reason)


def to_date(values: pa.Array, options: IngestOptions) -> Coerced:
    stamps, errors = to_datetime(values, options.model_copy(update={"timezone": "UTC"}))
    return pc.cast(pc.cast(stamps, pa.timestamp("us")), pa.date32(), safe=False), errors


def to_enum(values: pa.Array, choices: tuple[str, ...], *,
            synonyms: dict[str, str] | None = None) -> Coerced:
    """Case-insensitive; spaces and hyphens read as underscores (``In person``)."""
    text = pc.replace_substring_regex(pc.utf8_lower(as_text(values)), r"[\s\-]+", "_")
    if synonyms:
        keys = pa.array(list(synonyms))
        mapped = pc.take(pa.array(list(synonyms.values())), pc.index_in(text, value_set=keys))
        text = pc.coalesce(mapped, text)
    valid = pc.is_in(text, value_set=pa.array(choices))
    reason = f"not one of {', '.join(choices)}"
    return (pc.if_else(valid, text, pa.scalar(None, pa.string())),
            errors_where(pc.and_(pc.is_valid(text), pc.invert(valid)), reason))


def to_consent(values: pa.Array, choices: tuple[str, ...]) -> Coerced:
    return to_enum(values, choices, synonyms=_CONSENT_SYNONYMS)


def _per_element(text: pa.Array, convert: Any, reason: str) -> tuple[pa.Array, pa.Array]:
    strings = text.to_pylist()
    converted = [None if s is None else convert(s) for s in strings]
    bad = [s is not None and c is None for s, c in zip(strings, converted, strict=True)]
    return pa.array(converted, pa.string()), errors_where(pa.array(bad, pa.bool_()), reason)


def to_email(values: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """The email as written (trimmed), its matching key, and errors."""
    text = as_text(values)
    normalized, errors = _per_element(text, normalize_email, "not an email address")
    return text, normalized, errors


def to_phone(values: pa.Array, options: IngestOptions) -> tuple[pa.Array, pa.Array, pa.Array]:
    """The phone as written (trimmed), its E.164 form, and errors."""
    text = as_text(values)
    e164, errors = _per_element(
        text, lambda s: normalize_phone(s, default_region=options.phone_region),
        "not a valid phone number",
    )
    return text, e164, errors


def _tags_json(text: str) -> str:
    if text.startswith("["):
        try:
            items = json.loads(text)
            if isinstance(items, list):
                return json.dumps([str(i).strip() for i in items if str(i).strip()])
        except json.JSONDecodeError:
            pass
    return json.dumps([part.strip() for part in text.split(";") if part.strip()])


def to_tags(values: pa.Array) -> Coerced:
    """``a;b`` (or a JSON list) -> the JSON list stored in the tags column."""
    text = as_text(values)
    return pa.array([None if s is None else _tags_json(s) for s in text.to_pylist()],
                    pa.string()), pa.nulls(len(text), pa.string())
