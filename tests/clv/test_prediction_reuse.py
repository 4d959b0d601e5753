"""A fitted model's remembered P(alive) (TransactionModel._alive) is only ever the
answer for the history it is asked about now."""

from __future__ import annotations

import numpy as np
import pytest

from kithkin.clv import BetaGeo, ModifiedBetaGeo, ParetoNBD, TransactionModel

PARAMS = {BetaGeo: {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4},
          ModifiedBetaGeo: {"r": 0.52, "alpha": 6.2, "a": 0.89, "b": 1.6},
          ParetoNBD: {"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7}}


def _history(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    age = rng.integers(10, 80, size).astype(float)
    x = rng.poisson(1.5, size).astype(float)
    tx = np.where(x > 0, np.floor(rng.uniform(0.0, 1.0, size) * age), 0.0)
    return x, tx, age


@pytest.mark.parametrize("kind", list(PARAMS))
def test_a_changed_history_or_model_is_not_answered_from_memory(
        kind: type[TransactionModel]) -> None:
    x, tx, age = _history(20_000)
    model = kind.from_params(PARAMS[kind])
    first = model.probability_alive(x, tx, age)
    first[:] = -1.0  # the caller's copy: the memory is not touched
    again = model.probability_alive(x, tx, age)
    fresh = kind.from_params(PARAMS[kind])
    np.testing.assert_array_equal(again, fresh.probability_alive(x, tx, age))
    np.testing.assert_array_equal(model.expected_purchases(30.0, x, tx, age),
                                  fresh.expected_purchases(30.0, x, tx, age))
    age += 5.0  # in place: equal values decide, not the same array
    np.testing.assert_array_equal(model.probability_alive(x, tx, age),
                                  kind.from_params(PARAMS[kind]).probability_alive(x, tx, age))
    model.params_ = {**PARAMS[kind], "r": 2 * PARAMS[kind]["r"]}
    np.testing.assert_array_equal(
        model.probability_alive(x, tx, age),
        kind.from_params(model.params_).probability_alive(x, tx, age))
