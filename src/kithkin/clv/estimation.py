"""Maximum likelihood in log-parameter space with honest failure reporting.

All model parameters are positive, so the optimiser works on their logarithms (an
unconstrained, better-conditioned problem).  L-BFGS-B runs first; when it stops without
convergence Nelder-Mead continues from where it stopped.  Standard errors come from the
inverse Hessian of the negative log-likelihood at the optimum, mapped back to the natural
scale with the delta method.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import OptimizeResult, minimize
from threadpoolctl import threadpool_limits

from kithkin.errors import ConvergenceError

FloatArray = NDArray[np.float64]
LogLikelihood = Callable[[FloatArray], FloatArray]
"""Maps natural-scale parameters to the per-row log-likelihood."""
WithGradient = Callable[[FloatArray], tuple[FloatArray, Sequence[FloatArray]]]
"""Maps natural-scale parameters to the per-row log-likelihood and derivatives."""

_LOG_BOUND: Final = 25.0
"""|log parameter| limit; reaching it means the data cannot pin the parameter down."""
_PENALTY_FOR_NON_FINITE: Final = 1e12
_HESSIAN_STEP: Final = 1e-3


@dataclass(frozen=True)
class Estimate:
    """Fitted parameters (natural scale), unpenalised log-likelihood and standard errors."""

    params: FloatArray
    log_likelihood: float
    standard_errors: FloatArray


def maximise(
    *,
    model: str,
    names: Sequence[str],
    log_likelihood: LogLikelihood,
    weights: FloatArray,
    penalizer: float,
    start: FloatArray,
    gradient: WithGradient | None = None,
) -> Estimate:
    """Maximise ``sum(weights * log_likelihood(params))`` over positive params.

    The objective is the weighted mean negative log-likelihood plus
    ``penalizer * sum(params ** 2)``, the same L2 penalty as lifetimes so a penalizer
    means the same thing in both libraries.  With ``gradient`` (the log-likelihood and its
    analytic derivatives in one pass) L-BFGS-B needs about a fifth of the likelihood
    evaluations of finite differences.

    Raises
    ------
    ConvergenceError
        With the optimiser's reason when no method converges, the likelihood is not
        finite at the optimum, or a parameter runs off to zero or infinity.
    """
    total_weight = float(weights.sum())

    def objective(log_params: FloatArray) -> float:
        params = np.exp(log_params)
        with np.errstate(all="ignore"):
            mean_ll = float(np.sum(weights * log_likelihood(params))) / total_weight
        if not np.isfinite(mean_ll):
            return _PENALTY_FOR_NON_FINITE
        return -mean_ll + penalizer * float(np.sum(params**2))

    def objective_and_gradient(log_params: FloatArray) -> tuple[float, FloatArray]:
        assert gradient is not None
        params = np.exp(log_params)
        with np.errstate(all="ignore"):
            rows, derivatives = gradient(params)
            mean_ll = float(np.sum(weights * rows)) / total_weight
            mean_gradient = np.array([np.sum(weights * row) for row in derivatives])
            mean_gradient /= total_weight
        if not np.isfinite(mean_ll):
            return _PENALTY_FOR_NON_FINITE, np.zeros_like(params)
        value = -mean_ll + penalizer * float(np.sum(params**2))
        slope = params * (-mean_gradient + 2.0 * penalizer * params)
        if not np.all(np.isfinite(slope)):
            slope = np.zeros_like(params)  # a failed step; L-BFGS-B backtracks on the value
        return value, slope

    # L-BFGS-B calls BLAS on 4-element vectors; threaded OpenBLAS spinning up for those
    # cost 15x the whole fit on a busy machine, so BLAS runs single-threaded here.
    with threadpool_limits(limits=1, user_api="blas"):
        return _maximise(model=model, names=names, objective=objective,
                         objective_and_gradient=objective_and_gradient if gradient else None,
                         start=start, log_likelihood=log_likelihood, weights=weights,
                         total_weight=total_weight)


def _maximise(
    *,
    model: str,
    names: Sequence[str],
    objective: Callable[[FloatArray], float],
    objective_and_gradient: Callable[[FloatArray], tuple[float, FloatArray]] | None,
    start: FloatArray,
    log_likelihood: LogLikelihood,
    weights: FloatArray,
    total_weight: float,
) -> Estimate:
    """L-BFGS-B, Nelder-Mead fallback, then the checks that turn failures into errors."""
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(names)
    options = {"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9}
    if objective_and_gradient is None:
        first = minimize(objective, start, method="L-BFGS-B", bounds=bounds, options=options)
    else:
        first = minimize(objective_and_gradient, start, method="L-BFGS-B", jac=True,
                         bounds=bounds, options=options)
    result = first
    if not _usable(first):
        restart = first.x if np.all(np.isfinite(first.x)) else start
        result = minimize(objective, restart, method="Nelder-Mead", bounds=bounds,
                          options={"maxiter": 400 * len(names), "xatol": 1e-9, "fatol": 1e-13})
        if not _usable(result):
            raise ConvergenceError(
                f"{model} fit did not converge: L-BFGS-B: {first.message}; "
                f"Nelder-Mead: {result.message}"
            )
    if not result.fun < _PENALTY_FOR_NON_FINITE:
        raise ConvergenceError(f"{model} fit failed: the log-likelihood is not finite")
    at_bound = np.abs(result.x) >= _LOG_BOUND - 1e-3
    if np.any(at_bound):
        stuck = ", ".join(
            f"{name}={np.exp(value):.3g}" for name, value, hit in zip(
                names, result.x, at_bound, strict=True) if hit
        )
        raise ConvergenceError(
            f"{model} fit did not converge: {stuck} ran off to the parameter bound; "
            "the data cannot identify it"
        )
    params = np.exp(result.x)
    with np.errstate(all="ignore"):
        ll = float(np.sum(weights * log_likelihood(params)))
    if not np.isfinite(ll):
        raise ConvergenceError(f"{model} fit failed: the log-likelihood is not finite")
    hessian = (
        _hessian_from_values(lambda x: total_weight * objective(x), result.x)
        if objective_and_gradient is None else
        _hessian_from_gradient(lambda x: total_weight * objective_and_gradient(x)[1], result.x)
    )
    errors = _standard_errors(hessian, result.x)
    if errors is None:
        shown = ", ".join(f"{n}={v:.4g}" for n, v in zip(names, params, strict=True))
        raise ConvergenceError(
            f"{model} fit stopped on a flat or saddle point ({shown}): the Hessian of the "
            "log-likelihood is not positive definite, so the data cannot identify the "
            "parameters; more varied data or a penalizer > 0 may help"
        )
    return Estimate(params=params, log_likelihood=ll, standard_errors=errors)


def _usable(result: OptimizeResult) -> bool:
    return bool(result.success) and bool(np.all(np.isfinite(result.x)))


def _hessian_from_values(total_objective: Callable[[FloatArray], float],
                         log_params: FloatArray) -> FloatArray:
    """Central second differences of the objective (1 + 2k^2 evaluations)."""
    k, h = log_params.size, _HESSIAN_STEP
    hessian = np.empty((k, k))
    centre = total_objective(log_params)
    steps = np.eye(k) * h
    for i in range(k):
        plus, minus = total_objective(log_params + steps[i]), total_objective(log_params - steps[i])
        hessian[i, i] = (plus - 2.0 * centre + minus) / h**2
        for j in range(i):
            hessian[i, j] = hessian[j, i] = (
                total_objective(log_params + steps[i] + steps[j])
                - total_objective(log_params + steps[i] - steps[j])
                - total_objective(log_params - steps[i] + steps[j])
                + total_objective(log_params - steps[i] - steps[j])
            ) / (4.0 * h**2)
    return hessian


def _hessian_from_gradient(total_gradient: Callable[[FloatArray], FloatArray],
                           log_params: FloatArray) -> FloatArray:
    """Central differences of the analytic gradient (2k evaluations), symmetrised."""
    steps = np.eye(log_params.size) * _HESSIAN_STEP
    columns = [(total_gradient(log_params + step) - total_gradient(log_params - step))
               / (2.0 * _HESSIAN_STEP) for step in steps]
    hessian = np.column_stack(columns)
    return np.asarray(0.5 * (hessian + hessian.T), dtype=np.float64)


def _standard_errors(hessian: FloatArray, log_params: FloatArray) -> FloatArray | None:
    """Delta-method standard errors from the Hessian of the negative LL in log space.

    At the optimum the gradient vanishes, so with theta = exp(phi) the covariance on the
    natural scale is ``diag(theta) @ inv(H_phi) @ diag(theta)``.  Returns None when the
    Hessian is not positive definite (a flat or saddle optimum, not a maximum).
    """
    theta = np.exp(log_params)
    if not np.all(np.isfinite(hessian)) or np.any(np.linalg.eigvalsh(hessian) <= 0):
        return None
    covariance = np.linalg.inv(hessian) * np.outer(theta, theta)
    return np.asarray(np.sqrt(np.diag(covariance)), dtype=np.float64)
