"""Reading metric columns as NumPy arrays, tolerating missing columns and nulls."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]


def number(frame: pd.DataFrame, name: str, fill: float = 0.0) -> FloatArray:
    """A numeric metric; null and absent values become ``fill`` (NaN keeps them unknown)."""
    if name not in frame.columns:
        return np.full(len(frame), fill, dtype=float)
    values: FloatArray = pd.to_numeric(frame[name], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan)
    if np.isnan(fill):
        return values
    return np.asarray(np.where(np.isnan(values), fill, values), dtype=float)


def flag(frame: pd.DataFrame, name: str) -> FloatArray:
    """A boolean metric as 0.0/1.0; null and absent are 0 (no evidence of the bond)."""
    if name not in frame.columns:
        return np.zeros(len(frame))
    flags: FloatArray = as_flags(frame[name]).to_numpy(dtype=float)
    return flags


def saturate(values: FloatArray, reference: float) -> FloatArray:
    """``values / reference`` clipped to [0, 1]: full marks at the reference level."""
    return np.clip(values / reference, 0.0, 1.0)


def at_least(values: FloatArray, threshold: float) -> FloatArray:
    return (values >= threshold).astype(float)


def mean_of(*parts: FloatArray) -> FloatArray:
    """Element-wise mean of equal-length arrays, added in order (what ``np.mean`` over
    their ``vstack`` computes, without copying them into one block first)."""
    total = np.array(parts[0], dtype=float)
    for part in parts[1:]:
        total += part
    return np.asarray(total / len(parts), dtype=float)


def as_flags(series: pd.Series) -> pd.Series:
    """True/False with missing as False, without pandas' object-downcasting warning
    (``fillna(False)`` on an object column of booleans and None warns on every call)."""
    return series.where(series.notna(), False).astype(bool)
