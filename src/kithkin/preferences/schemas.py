"""Preferences as the API reads and writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

MAX_ITEMS = 50
MAX_ITEM_CHARS = 100
MAX_NOTES_CHARS = 5000
LISTS = ("categories", "brands", "sizes", "channels")

Items = list[str]


class PreferencesUpdate(BaseModel):
    """The customer's whole set of preferences (a PUT: what is left out is cleared)."""

    categories: Items = Field(default_factory=list, max_length=MAX_ITEMS,
                              description="Product categories they like, e.g. jazz.")
    brands: Items = Field(default_factory=list, max_length=MAX_ITEMS)
    sizes: Items = Field(default_factory=list, max_length=MAX_ITEMS,
                         description="e.g. 'shoes 42', 'shirt M'.")
    channels: Items = Field(default_factory=list, max_length=MAX_ITEMS,
                            description="How they like to be contacted: email, sms, phone "
                                        "or post (the first is the favourite).")
    notes: str | None = Field(default=None, max_length=MAX_NOTES_CHARS)


class PreferencesRead(PreferencesUpdate):
    """``source`` says where they come from: "edited" (this record), "imported" (only
    the customer's imported ``preferences`` attribute is known, in ``imported``) or
    "none" (nothing is known: not the same as knowing they have no preference)."""

    customer_id: int
    source: Literal["edited", "imported", "none"]
    imported: Items = Field(default_factory=list)
    updated_at: datetime | None = None
    updated_by_id: int | None = None

    @property
    def known(self) -> bool:
        return self.source != "none" and bool(self.item_count)

    @property
    def item_count(self) -> int:
        if self.source == "imported":
            return len(self.imported)
        return sum(len(getattr(self, name)) for name in LISTS) + (1 if self.notes else 0)
