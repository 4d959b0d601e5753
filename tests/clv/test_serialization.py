"""JSON round trips keep everything a fitted model predicts with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kithkin.clv import BetaGeo, GammaGamma, ParetoNBD
from kithkin.errors import ValidationError


def test_round_trip_predicts_the_same(bg: BetaGeo, cdnow: pd.DataFrame,
                                      tmp_path: Path) -> None:
    path = tmp_path / "bg.json"
    bg.save(path)
    loaded = BetaGeo.load(path)
    assert loaded.params_ == bg.params_
    assert loaded.log_likelihood_ == bg.log_likelihood_
    assert loaded.n_customers_ == bg.n_customers_
    pd.testing.assert_frame_equal(loaded.summary, bg.summary)
    x, tx, age = (cdnow[c] for c in ("frequency", "recency", "T"))
    np.testing.assert_array_equal(loaded.expected_purchases(10, x, tx, age),
                                  bg.expected_purchases(10, x, tx, age))


def test_gamma_gamma_keeps_its_exclusions(gg: GammaGamma) -> None:
    loaded = GammaGamma.from_json(gg.to_json())
    assert loaded.n_excluded_ == gg.n_excluded_ == 1411
    assert loaded.params_ == gg.params_


def test_wrong_model_or_garbage_is_rejected(bg: BetaGeo) -> None:
    with pytest.raises(ValidationError, match="holds a BetaGeo model, not ParetoNBD"):
        ParetoNBD.from_json(bg.to_json())
    with pytest.raises(ValidationError, match="not a serialised BetaGeo"):
        BetaGeo.from_json("{}")
    with pytest.raises(ValidationError, match="not fitted"):
        BetaGeo().to_json()


def test_repr_and_penalizer_shrink_parameters(cdnow: pd.DataFrame) -> None:
    assert repr(BetaGeo(penalizer=0.1)) == "BetaGeo(penalizer=0.1)"
    plain = BetaGeo().fit(frequency=cdnow["frequency"], recency=cdnow["recency"],
                          T=cdnow["T"])
    shrunk = BetaGeo(penalizer=0.1).fit(frequency=cdnow["frequency"],
                                        recency=cdnow["recency"], T=cdnow["T"])
    norm = sum(v**2 for v in plain.params_.values())
    assert sum(v**2 for v in shrunk.params_.values()) < norm
    assert shrunk.log_likelihood_ < plain.log_likelihood_
