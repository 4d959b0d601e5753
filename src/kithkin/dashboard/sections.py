"""Extra sections of the customer 360 page, contributed by other capabilities.

Stages with evidence, the health scorecard, bonds and recommendations belong to the
relationship engine and the playbooks; each registers a loader here. A loader returns
the data for its template, or None when there is nothing true to show (not computed
yet, capability switched off), in which case the section is left out of the page rather
than filled with placeholder text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from kithkin.config import Settings

SectionLoader = Callable[[Session, int, Settings], Any | None]


@dataclass(frozen=True)
class CustomerSection:
    """``template`` is rendered with ``data`` (what the loader returned) and ``customer``."""

    key: str
    title: str
    template: str
    loader: SectionLoader
    order: int = 100


@dataclass(frozen=True)
class LoadedSection:
    section: CustomerSection
    data: Any


_SECTIONS: dict[str, CustomerSection] = {}


def register_customer_section(section: CustomerSection) -> None:
    _SECTIONS[section.key] = section


def load_sections(*, session: Session, customer_id: int,
                  settings: Settings) -> list[LoadedSection]:
    """The sections that have data for this customer, in display order."""
    loaded = []
    for section in sorted(_SECTIONS.values(), key=lambda s: (s.order, s.key)):
        data = section.loader(session, customer_id, settings)
        if data is not None:
            loaded.append(LoadedSection(section=section, data=data))
    return loaded
