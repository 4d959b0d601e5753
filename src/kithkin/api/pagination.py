"""The HTTP envelope of a keyset page; the paging itself is :mod:`kithkin.database.pagination`."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from kithkin.database.pagination import DEFAULT_LIMIT, MAX_LIMIT

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "Page"]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `after` to get the next page; null on the last page."
    )
    limit: int
