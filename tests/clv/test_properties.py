"""Invariants that hold for any parameters and any history (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kithkin.clv import BetaGeo, ModifiedBetaGeo, ParetoNBD, TransactionModel
from kithkin.clv.compression import compress

MODELS: tuple[type[TransactionModel], ...] = (BetaGeo, ParetoNBD, ModifiedBetaGeo)
positive = st.floats(min_value=0.05, max_value=20.0)
# a > 1 keeps the BG/NBD family's expectations finite.
shape_a = st.floats(min_value=1.05, max_value=20.0)


@st.composite
def models(draw: st.DrawFn) -> TransactionModel:
    cls = draw(st.sampled_from(MODELS))
    values = [draw(positive) for _ in cls.param_names]
    if cls is not ParetoNBD:
        values[2] = draw(shape_a)
    return cls.from_params(dict(zip(cls.param_names, values, strict=True)))


@st.composite
def histories(draw: st.DrawFn) -> tuple[int, float, float]:
    x = draw(st.integers(min_value=0, max_value=300))
    age = draw(st.floats(min_value=0.0, max_value=2000.0))
    recency = 0.0 if x == 0 else draw(st.floats(min_value=0.0, max_value=1.0)) * age
    return x, recency, age


@settings(max_examples=150, deadline=None)
@given(model=models(), history=histories())
def test_probability_alive_is_a_probability(model: TransactionModel,
                                            history: tuple[int, float, float]) -> None:
    p = model.probability_alive(*history)
    assert np.isfinite(p) and 0.0 <= p <= 1.0


@settings(max_examples=150, deadline=None)
@given(model=models(), history=histories(),
       horizons=st.lists(st.floats(min_value=0.0, max_value=500.0), min_size=2, max_size=6))
def test_expected_purchases_non_negative_and_monotone(
    model: TransactionModel, history: tuple[int, float, float], horizons: list[float]
) -> None:
    t = np.sort(np.array(horizons))
    conditional = model.expected_purchases(t, *history)
    new = model.expected_purchases_new_customer(t)
    for values in (conditional, new):
        assert np.all(np.isfinite(values))
        assert np.all(values >= -1e-9)
        assert np.all(np.diff(values) >= -1e-9 * np.maximum(1.0, values[1:]))


@settings(max_examples=60, deadline=None)
@given(model=models(), t=st.floats(min_value=0.1, max_value=60.0))
def test_purchase_count_distribution_sums_to_one_with_the_right_mean(
    model: TransactionModel, t: float
) -> None:
    n = np.arange(2000)
    p = model.probability_of_purchases(n, t)
    assert np.all(p >= -1e-12)
    assert p.sum() <= 1.0 + 1e-9
    # With a near 1 the tail beyond n = 2000 is heavy: its mass may be tiny while its share
    # of the mean is not, so the mean is only checked when the tail is negligible.
    if p.sum() > 1 - 1e-10:
        mean = float(np.sum(n * p))
        expected = float(model.expected_purchases_new_customer(t))
        assert mean == pytest.approx(expected, rel=1e-4, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(model=models(), rows=st.lists(histories(), min_size=1, max_size=30),
       repeats=st.lists(st.integers(min_value=1, max_value=5), min_size=30, max_size=30))
def test_compression_preserves_the_log_likelihood(
    model: TransactionModel, rows: list[tuple[int, float, float]], repeats: list[int]
) -> None:
    frame = pd.DataFrame(rows, columns=["x", "tx", "T"]).loc[
        np.repeat(np.arange(len(rows)), repeats[: len(rows)])]
    x, tx, age = (frame[c].to_numpy(dtype=float) for c in ("x", "tx", "T"))
    full = model.log_likelihood(frequency=x, recency=tx, T=age).sum()
    packed = compress(x, tx, age, weights=np.ones(x.size))
    compressed = np.dot(packed.weights, model.log_likelihood(
        frequency=packed.columns[0], recency=packed.columns[1], T=packed.columns[2]))
    np.testing.assert_allclose(compressed, full, rtol=1e-12)
    np.testing.assert_array_equal(packed.columns[0][packed.inverse], x)


def test_weighted_fit_equals_fit_on_repeated_rows(cdnow: pd.DataFrame) -> None:
    sample = cdnow.iloc[:600]
    counts = np.arange(600) % 3 + 1
    repeated = sample.loc[sample.index.repeat(counts)]
    a = BetaGeo().fit(frequency=sample["frequency"], recency=sample["recency"],
                      T=sample["T"], weights=counts)
    b = BetaGeo().fit(frequency=repeated["frequency"], recency=repeated["recency"],
                      T=repeated["T"])
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-9)
    assert a.n_customers_ == b.n_customers_ == counts.sum()


def test_grouping_by_distinct_pairs_changes_nothing(bg: BetaGeo, cdnow: pd.DataFrame) -> None:
    many = pd.concat([cdnow] * 5)  # above the size where expected_purchases groups rows
    x, tx, age = (many[c].to_numpy() for c in ("frequency", "recency", "T"))
    grouped = bg.expected_purchases(20.0, x, tx, age)
    direct = np.concatenate([bg.expected_purchases(20.0, x[i:i + 2000], tx[i:i + 2000],
                                                   age[i:i + 2000])
                             for i in range(0, x.size, 2000)])
    np.testing.assert_allclose(grouped, direct, rtol=1e-12)
    assert len(many) >= 10_000
