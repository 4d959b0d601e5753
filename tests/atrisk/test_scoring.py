"""The at-risk score does not depend on the order the engine returned the customers in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kithkin.atrisk import scoring
from kithkin.atrisk.selection import fit_all
from kithkin.atrisk.signals import SIGNAL_COLUMNS


def _history(ids: np.ndarray, rng: np.random.Generator) -> scoring.History:
    age = rng.uniform(100, 700, len(ids)).round()
    tx = (age * rng.uniform(0, 1, len(ids))).round()
    x = np.where(tx > 0, rng.poisson(3, len(ids)) + 1, 0).astype(float)
    signals = pd.DataFrame({"customer_id": ids, **{c: rng.random(len(ids))
                                                   for c in SIGNAL_COLUMNS}})
    summary = pd.DataFrame({"customer_id": ids, "frequency": x, "recency": tx, "T": age})
    return scoring.History.of(summary, signals, as_of_day=20_000)


def test_a_sampled_training_set_is_the_same_in_any_row_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scoring, "TRAIN_SAMPLE", 400)
    rng = np.random.default_rng(3)
    ids = np.arange(1, 1201)
    then, now = _history(ids, rng), _history(ids, rng)
    label = rng.random(len(ids)) < 0.4
    fits = fit_all(then.x, then.tx, then.age)
    shuffled = rng.permutation(len(ids))
    first = scoring.train_and_score(then=then, label_no_purchase=label, then_fits=fits,
                                    now=now, now_fits=fits, horizon=90)
    again = scoring.train_and_score(then=then.take(shuffled), label_no_purchase=label[shuffled],
                                    then_fits=fits, now=now, now_fits=fits, horizon=90)
    assert first.score is not None and again.score is not None
    assert first.record["training_sample"] == 400
    np.testing.assert_array_equal(first.score, again.score)


def test_signals_are_aligned_to_the_summary_as_a_reindex_by_customer_would() -> None:
    ids = np.array([5, 3, 9, 1])
    summary = pd.DataFrame({"customer_id": ids, "frequency": 1.0, "recency": 2.0, "T": 3.0})
    signals = pd.DataFrame({"customer_id": [9, 5, 7], **{c: [1.0, 2.0, 3.0]
                                                          for c in scoring.DESIGN_SIGNALS},
                            "last_ended_kind": ["a", None, "b"]})
    aligned = scoring.History.of(summary, signals, as_of_day=0).signals
    expected = signals.set_index("customer_id").reindex(ids).reset_index(drop=True)
    pd.testing.assert_frame_equal(aligned, expected[list(scoring.DESIGN_SIGNALS)])
    # no signals at all (a store without interactions or memberships): all unknown
    for empty in (signals.iloc[:0], None):
        none = scoring.History.of(summary, empty, as_of_day=0).signals
        assert none.shape == (4, len(scoring.DESIGN_SIGNALS)) and none.isna().all().all()
