"""The Splink internals kithkin relies on, and nothing else, in one place.

Splink's public API cannot yet (a) put back the model after a failed EM session, (b) tell
which levels the u sample never reached, or (c) give a level's model weight; both need
private attributes (``Linker._settings_obj``, ``ComparisonLevel._u_is_trained``,
``._match_weight``). They may change in any minor release, so pyproject pins Splink to
the minor version the tests cover, and only this module touches them: a Splink upgrade
is checked here and in ``tests/identity``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from splink import Linker
from splink.internals.comparison_level_creator import ComparisonLevelCreator
from splink.internals.database_api import DatabaseAPI

__all__ = ["ComparisonLevelCreator", "DatabaseAPI", "Level", "comparisons", "fill_untrained_u",
           "floor_m", "model_restored_on_error", "prior"]


@dataclass(frozen=True)
class Level:
    """One agreement level of a comparison, as the model holds it."""

    label: str
    is_null: bool
    # log2(m/u) of the level; 0 for the null level, which carries no evidence.
    match_weight: float
    u_probability: float | None  # None for the null level
    u_trained: bool  # True for the null level (nothing to estimate)
    m_probability: float | None = None  # None for the null level and untrained levels


def _comparisons(linker: Linker) -> list[Any]:
    return list(linker._settings_obj.comparisons)


def comparisons(linker: Linker) -> dict[str, list[Level]]:
    """Each comparison's output column name and its levels, in Splink's order (position
    0 is the null level)."""
    return {
        comparison.output_column_name: [
            Level(label=level.label_for_charts, is_null=level.is_null_level,
                  match_weight=0.0 if level.is_null_level else float(level._match_weight),
                  u_probability=None if level.is_null_level else level.u_probability,
                  u_trained=bool(level._u_is_trained),
                  m_probability=None if level.is_null_level else level.m_probability)
            for level in comparison.comparison_levels
        ]
        for comparison in _comparisons(linker)
    }


def fill_untrained_u(linker: Linker, u_probability: float) -> int:
    """Set ``u`` explicitly on every level the u estimate did not reach (so it is
    saved with the model); returns how many levels that was."""
    filled = 0
    for comparison in _comparisons(linker):
        for level in comparison.comparison_levels:
            if not level._u_is_trained:
                level.u_probability = u_probability
                filled += 1
    return filled


def prior(linker: Linker) -> float:
    """The model's P(two random records match) (the lambda of Fellegi-Sunter)."""
    return float(linker._settings_obj._probability_two_random_records_match)


def floor_prior(linker: Linker, floor: float) -> bool:
    """Raise the model's prior to ``floor`` when it is below; whether it was raised."""
    settings = linker._settings_obj
    if not settings._probability_two_random_records_match < floor:
        return False
    settings._probability_two_random_records_match = floor
    return True


def floor_m(linker: Linker, floor: float) -> int:
    """Raise every trained ``m`` below ``floor`` to it and renormalise each comparison.

    EM gives ``m = 0`` to a level no training pair reached, i.e. infinite evidence
    against a match (weights of -40 to -280 bits were seen); additive smoothing keeps a
    rare level a strong but finite signal. Returns how many levels were raised.
    """
    raised = 0
    for comparison in _comparisons(linker):
        levels = [level for level in comparison.comparison_levels
                  if not level.is_null_level and level.m_probability is not None]
        if not levels:
            continue
        low = [level for level in levels if level.m_probability < floor]
        if not low:
            continue
        for level in low:
            level.m_probability = floor
        total = sum(level.m_probability for level in levels)
        for level in levels:
            level.m_probability = level.m_probability / total
        raised += len(low)
    return raised


@contextmanager
def model_restored_on_error(linker: Linker) -> Iterator[None]:
    """Put the model back as it was if the block raises: a failed EM session leaves
    Splink's model without the comparison it blocked on."""
    before = copy.deepcopy(linker._settings_obj.core_model_settings)
    try:
        yield
    except BaseException:
        linker._settings_obj.core_model_settings = before
        raise
