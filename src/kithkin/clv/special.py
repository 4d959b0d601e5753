"""Logarithms of the Gaussian hypergeometric function 2F1 that stay finite.

The Pareto/NBD likelihood and the BG/NBD family's conditional expectations contain
2F1(a, b; c; z) with 0 <= z < 1 and positive a, b, c.  For customers with many purchases
or long histories ``scipy.special.hyp2f1`` overflows (the function grows like
(1 - z)^(c - a - b) as z -> 1) or, near its branch-selection boundaries, returns
garbage.  These helpers work on the log scale and fall back to a log-space power series
where SciPy's value is unusable.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from itertools import pairwise
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import hyp2f1, logsumexp

FloatArray = NDArray[np.float64]

_SERIES_TERMS: Final = 20_000
_SERIES_CHUNK: Final = 512
_WORKERS: Final = min(8, os.cpu_count() or 1)
_NEAR_INTEGER: Final = 1e-9
_C_STEP: Final = 1e-6
_PARALLEL_CHUNK: Final = 2_048
"""Elements per thread below which :func:`_hyp2f1` does not split a call."""


def log_hyp2f1(a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike) -> FloatArray:
    """``log 2F1(a, b; c; z)`` for positive a, b, c and 0 <= z < 1.

    With positive parameters every term of the hypergeometric series is positive, so the
    function is >= 1 and its logarithm is well defined.  SciPy evaluates the bulk; any
    element where SciPy returns a non-finite or non-positive value is recomputed from the
    series summed in log space (Abramowitz & Stegun 15.1.1).

    Parameters
    ----------
    a, b, c : array_like
        Positive parameters (broadcast together).
    z : array_like
        Argument in [0, 1).

    Returns
    -------
    numpy.ndarray
        ``log 2F1`` with the broadcast shape of the inputs.
    """
    a_, b_, c_, z_ = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(a, b, c, z))
    with np.errstate(all="ignore"):
        value = _hyp2f1(a_, b_, c_, z_)
        gap = c_ - a_ - b_
        near = np.abs(gap - np.round(gap)) < _NEAR_INTEGER
        if np.any(near):
            # SciPy's z -> 1 formulas lose most digits when c - a - b is an integer up
            # to rounding (BG/NBD with a = 1 + r); 2F1 is smooth in c, so the mean of
            # its values at c +- a small step is accurate to the step squared
            value[near] = 0.5 * (
                _hyp2f1(a_[near], b_[near], c_[near] + _C_STEP, z_[near])
                + _hyp2f1(a_[near], b_[near], c_[near] - _C_STEP, z_[near]))
        out = np.log(value)
    bad = ~np.isfinite(out) | ~(value > 0)
    if np.any(bad):
        out = np.array(out, dtype=np.float64, copy=True)
        out[bad] = _log_series(a_[bad], b_[bad], c_[bad], z_[bad])
    return np.asarray(out, dtype=np.float64)


def _hyp2f1(a: FloatArray, b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """``scipy.special.hyp2f1`` elementwise, in chunks on several threads when there are
    many elements.

    It is the whole cost of Pareto/NBD's likelihood and predictions, it takes about a
    microsecond per element (tens near z = 1), and SciPy's loop releases the GIL; being
    elementwise, the chunks give the same values as one call.
    """
    size = z.size
    chunks = min(_WORKERS, size // _PARALLEL_CHUNK)
    if chunks < 2:
        return np.asarray(hyp2f1(a, b, c, z), dtype=np.float64)
    out = np.empty(z.shape)
    flat = [v.reshape(-1) for v in (a, b, c, z, out)]
    bounds = np.linspace(0, size, chunks + 1).astype(int)

    def part(start: int, stop: int) -> None:
        hyp2f1(*(v[start:stop] for v in flat[:4]), out=flat[4][start:stop])

    for done in [_pool().submit(part, start, stop)
                 for start, stop in pairwise(bounds)]:
        done.result()
    return out


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="kithkin-hyp2f1")


def log_hyp2f1_c_eq_a_plus_1(a: ArrayLike, b: ArrayLike, z: ArrayLike) -> FloatArray:
    """``log 2F1(a, b; a + 1; z)``, the form in the Pareto/NBD likelihood, without overflow.

    Euler's transformation (A&S 15.3.3) gives
    ``2F1(a, b; a+1; z) = (1 - z)^(1 - b) * 2F1(1, a + 1 - b; a + 1; z)``.  When
    ``0 < b < a + 1`` the remaining series has positive terms whose ratios are below z,
    so it lies in [1, 1/(1 - z)]: the large factor is carried exactly as
    ``(1 - b) * log1p(-z)`` and nothing overflows however large the counts are.  Where
    ``b >= a + 1`` the plain :func:`log_hyp2f1` is used.
    """
    a_, b_, z_ = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(a, b, z))
    transformable = b_ < a_ + 1.0
    out = np.empty_like(z_)
    t = transformable
    if np.any(t):
        out[t] = (1.0 - b_[t]) * np.log1p(-z_[t]) + log_hyp2f1(
            1.0, a_[t] + 1.0 - b_[t], a_[t] + 1.0, z_[t]
        )
    if np.any(~t):
        out[~t] = log_hyp2f1(a_[~t], b_[~t], a_[~t] + 1.0, z_[~t])
    return out


def _log_series(a: FloatArray, b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """Sum ``sum_n (a)_n (b)_n / ((c)_n n!) z^n`` in log space, chunk by chunk.

    Terms are accumulated through their log ratios, so no intermediate overflows; the sum
    stops once every remaining term is below 1e-17 of the running total.
    """
    total = np.zeros_like(z)  # log of the n = 0 term
    log_term = np.zeros_like(z)
    with np.errstate(divide="ignore"):
        log_z = np.log(z)
    start = 0
    while start < _SERIES_TERMS:
        n = np.arange(start, start + _SERIES_CHUNK, dtype=np.float64)[:, None]
        ratios = (
            np.log(a + n) + np.log(b + n) - np.log(c + n) - np.log(n + 1.0) + log_z
        )
        log_terms = log_term + np.cumsum(ratios, axis=0)
        total = logsumexp(np.vstack([total[None, :], log_terms]), axis=0)
        log_term = log_terms[-1]
        start += _SERIES_CHUNK
        if np.all(log_term - total < -40.0):
            break
    return np.asarray(total, dtype=np.float64)
