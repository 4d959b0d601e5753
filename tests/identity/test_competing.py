"""A record is at most one other person: candidates that are different people compete."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from kithkin.identity.competing import competing_adjusted


def _pairs(rows: list[tuple[int, int, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"customer_id_l": a, "customer_id_r": b, "match_weight": w,
                          "match_probability": 1 / (1 + 2 ** -w)} for a, b, w in rows])


def test_a_record_meeting_two_different_people_is_split_between_them() -> None:
    # Record 1 (no given name) meets 2 at odds 8 and 3 at odds 1024; 2 and 3 were never
    # scored together, so they are two people: P(1 is 2) = 8 / (1 + 8 + 1024).
    out = competing_adjusted(_pairs([(1, 2, 3.0), (1, 3, 10.0)]))
    assert out["match_probability"][0] == pytest.approx(8 / 1033)
    assert out["match_probability"][1] == pytest.approx(1024 / 1033)
    assert out["match_weight"][0] == pytest.approx(math.log2(8 / 1025))


def test_records_of_one_person_do_not_compete() -> None:
    # 2 and 3 are surely one person (weight 30): all three pairs keep their scores.
    pairs = _pairs([(1, 2, 8.0), (1, 3, 8.0), (2, 3, 30.0)])
    out = competing_adjusted(pairs)
    assert out["match_probability"].tolist() == pytest.approx(
        pairs["match_probability"].tolist(), rel=1e-6)


def test_a_lone_pair_is_unchanged() -> None:
    pairs = _pairs([(1, 2, 5.0), (3, 4, -2.0)])
    out = competing_adjusted(pairs)
    assert out["match_weight"].tolist() == pytest.approx([5.0, -2.0])
    assert competing_adjusted(pairs.iloc[:0]).empty
