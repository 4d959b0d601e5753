"""Query parameters shared by list routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from kithkin.api.pagination import MAX_LIMIT

LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
AfterQuery = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
