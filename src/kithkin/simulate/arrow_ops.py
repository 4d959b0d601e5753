"""Vectorised helpers: categorical draws as Arrow strings and string concatenation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def choice_index(
    rng: np.random.Generator, n: int, weights: Sequence[float] | np.ndarray
) -> np.ndarray:
    """``n`` category indices drawn with the given (unnormalised) weights."""
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
    return np.searchsorted(cumulative / cumulative[-1], rng.random(n), side="right")


def row_choice(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One category per row of an (n, k) weight matrix."""
    cumulative = np.cumsum(weights, axis=1)
    u = rng.random(len(weights))[:, None] * cumulative[:, -1:]
    chosen: np.ndarray = np.minimum((u >= cumulative).sum(axis=1), weights.shape[1] - 1)
    return chosen


def take(values: Sequence[str], index: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Strings ``values[index]``; null where ``mask`` is true."""
    out = pa.array(list(values), pa.string()).take(pa.array(index))
    if mask is not None and mask.any():
        out = pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), out)
    return out


def concat(*parts: pa.Array | str) -> pa.Array:
    """Element-wise string concatenation; a null part gives a null result."""
    result = pc.binary_join_element_wise(*parts, "")
    return result.combine_chunks() if isinstance(result, pa.ChunkedArray) else result


def digits(values: np.ndarray, width: int = 0) -> pa.Array:
    """Integers as decimal strings, left-padded with zeros to ``width``."""
    text = pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())
    return pc.utf8_lpad(text, width=width, padding="0") if width else text


def null_where(values: pa.Array, mask: np.ndarray) -> pa.Array:
    if not mask.any():
        return values
    return pc.if_else(pa.array(mask), pa.scalar(None, values.type), values)


def prefixed_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    return concat(prefix, digits(numbers, width))
