"""Request field types whose validation is exactly what their JSON Schema says.

Pydantic's lax mode reads ``false`` as 0, ``"7"`` as 7 and ``0`` as 1970-01-01, while the
OpenAPI document tells clients "integer" and "date": a client (or a fuzzer) that trusts
the document is surprised either way. These types accept what the schema describes and
nothing else, and bound ids so an out-of-range id is a 422 instead of a driver overflow.

Ids stop at 2**53 - 1, below the store's signed 64 bits: the largest integer that every
JSON client (JavaScript, or a validator comparing as doubles) reads exactly, so the
documented maximum means the same thing on both sides of the wire.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictFloat, StrictInt

MAX_ID = 2**53 - 1
# The store's integer columns, for free-form values (event records).
MIN_INT64, MAX_INT64 = -(2**63), 2**63 - 1

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:?\d{2})?")


def _iso_date_text(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value  # Python callers pass dates
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("must be an ISO 8601 date, YYYY-MM-DD")
    return value


def _iso_datetime_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATETIME.fullmatch(value):
        raise ValueError("must be an ISO 8601 date-time, YYYY-MM-DDTHH:MM:SS[+HH:MM]")
    return value


# A row id: an integer from 1 to MAX_ID, never a boolean or a numeric string.
RowId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
# A JSON number (an integer is a number; a boolean or a numeric string is not).
Number = StrictFloat
IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]
IsoDatetime = Annotated[datetime, BeforeValidator(_iso_datetime_text)]
