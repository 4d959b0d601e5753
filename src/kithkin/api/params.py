"""Path and query parameters shared by routes: ids, dates, page size and cursor.

Routes declare ids as ``{name:int}`` in the path, so a static sibling path such as
``/customers/assign`` is never read as an id (a wrong method there is a 405), and type
them :data:`IdPath`, so an id beyond 64 bits is a 422 rather than a driver overflow.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from kithkin.api.pagination import MAX_LIMIT
from kithkin.fields import MAX_ID, IsoDate

IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A row id.")]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
DatePath = Annotated[IsoDate, Path(description="An ISO date, YYYY-MM-DD.")]
DateQuery = Annotated[IsoDate | None, Query(description="An ISO date, YYYY-MM-DD.")]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
AfterQuery = Annotated[str | None, Query(
    description="`next_cursor` of the previous page; absent or empty: the first page.")]
