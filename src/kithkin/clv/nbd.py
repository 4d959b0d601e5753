"""The negative binomial distribution of purchase counts shared by the BG/NBD family.

With a Poisson purchase rate lambda ~ Gamma(r, alpha), the number of purchases in a
window of length t is NBD: P(X = j) = Gamma(r + j) / (Gamma(r) j!) p^r (1 - p)^j with
p = alpha / (alpha + t) (Fader, Hardie & Lee 2005, eq. 3).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.stats import nbinom

FloatArray = NDArray[np.float64]


def pmf_and_tail(n: FloatArray, t: FloatArray, *, r: float,
                 alpha: float) -> tuple[FloatArray, FloatArray]:
    """Return P(X(t) = n) and P(X(t) >= n) of the NBD purchase count."""
    p = alpha / (alpha + t)
    pmf = np.asarray(nbinom.pmf(n, r, p), dtype=np.float64)
    tail = np.where(n > 0, nbinom.sf(n - 1, r, p), 1.0)
    return pmf, np.asarray(tail, dtype=np.float64)
