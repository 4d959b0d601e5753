"""Collapse identical customer rows into weighted unique rows.

The likelihoods of all four models depend on a customer only through a few sufficient
statistics, so a million customers usually have far fewer distinct (frequency, recency,
T) rows.  Maximum likelihood over the unique rows with their counts as weights gives the
identical log-likelihood at a fraction of the cost per evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

_DIRECT_FROM: Final = 1_000
"""Rows from which whole-number columns are coded by offset instead of hashing."""
_DIRECT_SPAN: Final = 1 << 16
"""Extra value range (beyond 4 per row) that direct coding may allocate."""


def codes_of(values: FloatArray) -> tuple[IntArray, FloatArray]:
    """Integer codes and distinct values with ``distinct[codes] == values``.

    Purchase counts and ages in whole days are small whole numbers: for them the code is
    the rank of ``value - min`` among the values present (an offset, a bincount and a
    cumulative sum, far cheaper than hashing the floats).  Anything else goes
    through ``pandas.factorize``.  The order of ``distinct`` is unspecified.
    """
    if values.size >= _DIRECT_FROM:
        low, high = float(values.min()), float(values.max())
        if np.isfinite(low) and np.isfinite(high) and high - low <= 4 * values.size + _DIRECT_SPAN:
            shifted = values - low
            offsets = shifted.astype(np.intp)
            if np.array_equal(offsets, shifted):
                present = np.bincount(offsets) > 0
                rank = np.cumsum(present, dtype=np.intp) - 1
                distinct = np.flatnonzero(present).astype(np.float64) + low
                return rank[offsets], distinct
    codes, distinct = pd.factorize(values)
    return codes.astype(np.intp), np.asarray(distinct, dtype=np.float64)


def dense(keys: NDArray[np.int64], size: int) -> IntArray:
    """Renumber non-negative integer ``keys`` below ``size`` as 0..k-1 (k = distinct keys)."""
    if size <= 4 * keys.size + _DIRECT_SPAN:
        present = np.bincount(keys, minlength=size) > 0
        return np.asarray((np.cumsum(present, dtype=np.intp) - 1)[keys], dtype=np.intp)
    codes, _ = pd.factorize(keys)
    return np.asarray(codes, dtype=np.intp)


def combine(*codes: tuple[IntArray, int]) -> IntArray:
    """Dense codes of the combinations of several (codes, number of codes) columns."""
    key = np.zeros(codes[0][0].shape, dtype=np.int64)
    size = 1
    for column, count in codes:
        if size * count >= 1 << 62:  # would overflow: renumber what we have first
            key, size = dense(key, size).astype(np.int64), int(key.size)
        key = key * count + column
        size *= count
    return dense(key, size)


@dataclass(frozen=True)
class Compressed:
    """Unique rows (one array per column), their summed weights and the row mapping."""

    columns: tuple[FloatArray, ...]
    weights: FloatArray
    inverse: IntArray


def compress(*columns: FloatArray, weights: FloatArray) -> Compressed:
    """Group identical rows across ``columns`` and sum their ``weights``.

    Each column is coded (:func:`codes_of`), the codes combined into one integer key and
    that key renumbered: no sort, and no hashing at all for whole-number columns with
    small ranges.  The order of the groups is unspecified.
    """
    rows, codes = distinct(*columns)
    return Compressed(
        columns=rows,
        weights=np.bincount(codes, weights=weights, minlength=rows[0].size
                            if rows else 0).astype(np.float64),
        inverse=codes,
    )


def distinct(*columns: FloatArray) -> tuple[tuple[FloatArray, ...], IntArray]:
    """The distinct rows across ``columns`` and the code of each row's distinct row
    (``distinct_columns[k][codes] == columns[k]``), coded as :func:`compress` does."""
    coded = [codes_of(column) for column in columns]
    codes = combine(*((c, d.size) for c, d in coded))
    groups = int(codes.max()) + 1 if codes.size else 0
    first = np.empty(groups, dtype=np.intp)
    first[codes[::-1]] = np.arange(codes.size - 1, -1, -1)
    return tuple(column[first] for column in columns), codes


@dataclass(frozen=True)
class Column:
    """A column kept with its distinct values, so a function of it costs f(distinct).

    Purchase counts and ages in whole days take a few hundred distinct values even for
    millions of customers; evaluating ``gammaln``/``betaln``/``log`` there and gathering
    by code makes each likelihood evaluation a handful of array gathers.
    """

    full: FloatArray
    unique: FloatArray
    codes: IntArray

    @classmethod
    def of(cls, values: FloatArray) -> Column:
        codes, unique = codes_of(values)
        return cls(full=values, unique=unique, codes=codes)

    def map(self, function: Callable[[FloatArray], FloatArray]) -> FloatArray:
        """``function(full)``, evaluated on the distinct values only."""
        return np.asarray(function(self.unique), dtype=np.float64)[self.codes]
