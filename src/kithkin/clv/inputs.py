"""Validation of the per-customer summaries the CLV models consume.

Every public entry point of :mod:`kithkin.clv` passes its arrays through here, so a bad
column fails early with a :class:`~kithkin.errors.ValidationError` that names the column
and the first offending position instead of surfacing later as a NaN likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kithkin.errors import ValidationError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class History:
    """Repeat-purchase history: frequency x, recency t_x and age T (model time units)."""

    frequency: FloatArray
    recency: FloatArray
    T: FloatArray


def as_float_array(name: str, values: ArrayLike) -> FloatArray:
    """Convert ``values`` to a finite float64 array or raise a ValidationError naming it."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must be numeric: {exc}") from exc
    if array.ndim > 1:
        raise ValidationError(
            f"{name} must be a scalar or one-dimensional, got shape {array.shape}"
        )
    _require(name, np.isfinite(array), "must be finite (no NaN or infinity)")
    return array


def history(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *, broadcast: bool = False
) -> History:
    """Validate (frequency, recency, T) in the lifetimes convention.

    frequency counts repeat purchases (a non-negative integer), recency is the age at the
    last repeat purchase (0 for customers without repeats) and T the age at the end of
    observation, so ``0 <= recency <= T``.  ``broadcast=True`` (predictions) lets scalars
    combine with arrays; fitting requires equal lengths.
    """
    x = as_float_array("frequency", frequency)
    tx = as_float_array("recency", recency)
    age = as_float_array("T", T)
    if broadcast:
        try:
            x, tx, age = np.broadcast_arrays(x, tx, age)
        except ValueError as exc:
            raise ValidationError(
                f"frequency, recency and T have incompatible shapes "
                f"{x.shape}, {tx.shape}, {age.shape}"
            ) from exc
    else:
        x, tx, age = np.atleast_1d(x), np.atleast_1d(tx), np.atleast_1d(age)
        same_length("frequency", x, recency=tx, T=age)
    _require("frequency", x >= 0, "must be non-negative")
    _require("frequency", x == np.floor(x), "must be whole numbers of repeat purchases")
    _require("recency", tx >= 0, "must be non-negative")
    _require("T", age >= 0, "must be non-negative")
    _require("recency", tx <= age, "must not exceed T (the last purchase is before the end)")
    _require("recency", (x > 0) | (tx == 0), "must be 0 where frequency is 0")
    return History(x, tx, age)


def weights_for(weights: ArrayLike | None, n: int) -> FloatArray:
    """Validate optional per-row weights (counts of identical customers); default all 1."""
    if weights is None:
        return np.ones(n, dtype=np.float64)
    w = np.atleast_1d(as_float_array("weights", weights))
    if w.shape != (n,):
        raise ValidationError(f"weights has length {w.size}, expected {n}")
    _require("weights", w >= 0, "must be non-negative")
    if not np.any(w > 0):
        raise ValidationError("weights must not all be zero")
    return w


def same_length(first_name: str, first: FloatArray, **others: FloatArray) -> None:
    """Raise unless every array has the length of ``first``."""
    for name, array in others.items():
        if array.shape != first.shape:
            raise ValidationError(
                f"{name} has length {array.size} but {first_name} has length {first.size}"
            )


def _require(name: str, condition: NDArray[np.bool_], reason: str) -> None:
    if not np.all(condition):
        position = int(np.flatnonzero(~np.atleast_1d(condition))[0])
        raise ValidationError(f"{name} {reason} (first offending position: {position})")
