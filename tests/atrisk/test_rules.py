"""Defection rules on crafted summaries: each rule fires on the right day, with its
evidence, and history (won back, still defected) holds across refreshes."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd

from kithkin.analytics.periods import day_of
from kithkin.atrisk import rules

AS_OF = date(2024, 6, 30)
LIMITS = rules.Limits(at_risk_threshold=0.8, at_risk_silence_multiple=2.0,
                      defected_silence_multiple=4.0, min_pace_days=30.0)


def _row(customer: int, *, first: date | None, last: date | None, repeats: int,
         as_of: date = AS_OF, score: float = 0.1, ended: date | None = None,
         active: int = 0) -> dict[str, object]:
    if first is None or last is None:
        return {"customer_id": customer, "frequency": None, "recency": None, "T": None,
                "at_risk": None, "active_memberships": active, "ended_memberships": 0,
                "last_membership_end_day": None, "last_ended_kind": None}
    return {"customer_id": customer, "frequency": float(repeats),
            "recency": float((last - first).days), "T": float((as_of - first).days),
            "at_risk": score, "active_memberships": active,
            "ended_memberships": 0 if ended is None else 1,
            "last_membership_end_day": None if ended is None else day_of(ended),
            "last_ended_kind": None if ended is None else "contract"}


NO_HISTORY = pd.DataFrame({"customer_id": pd.Series(dtype="int64"),
                           "defection_stage": pd.Series(dtype=object),
                           "defection_since": pd.Series(dtype=object)})


def _assign(rows: list[dict[str, object]], previous: pd.DataFrame = NO_HISTORY,
            as_of: date = AS_OF) -> tuple[pd.DataFrame, pd.DataFrame]:
    return rules.assign(pd.DataFrame(rows), previous, as_of=as_of, limits=LIMITS)


def test_a_customer_who_goes_silent_is_defected_on_the_day_the_silence_crossed_the_limit(
) -> None:
    # six repeat purchases 40 days apart (pace 40), last on 2024-01-01: at risk after 80
    # days of silence, defected after 160, i.e. on 2024-06-09
    first = date(2023, 5, 6)
    last = first + timedelta(days=240)
    stages, changes = _assign([_row(1, first=first, last=last, repeats=6)])
    assert last == date(2024, 1, 1)
    assert stages.loc[0, "defection_stage"] == rules.DEFECTED
    assert stages.loc[0, "defection_since"] == last + timedelta(days=160)
    change = changes.iloc[0]
    assert (change.rule, change.to_stage, change.from_stage) == ("silence", "defected", None)
    assert change.changed_on == date(2024, 6, 9)
    evidence = json.loads(change.evidence)
    assert evidence["pace_days"] == 40.0 and evidence["pace_source"] == "own"
    assert evidence["last_purchase_on"] == "2024-01-01"
    # 10 days earlier the same customer was only at risk, since day 80 of the silence
    stages, changes = _assign([_row(1, first=first, last=last, repeats=6,
                                    as_of=date(2024, 5, 1))], as_of=date(2024, 5, 1))
    assert stages.loc[0, "defection_stage"] == rules.AT_RISK
    assert changes.iloc[0].changed_on == last + timedelta(days=80)


def test_a_cancelled_contract_with_nothing_bought_since_is_a_defection() -> None:
    first, last = date(2023, 1, 1), date(2024, 6, 1)
    ended = date(2024, 6, 10)
    stages, changes = _assign([
        _row(1, first=first, last=last, repeats=17, ended=ended),
        # bought after the contract ended: still a customer
        _row(2, first=first, last=date(2024, 6, 20), repeats=17, ended=ended),
        # another membership still runs: not a defection
        _row(3, first=first, last=last, repeats=17, ended=ended, active=1),
    ])
    assert list(stages["defection_stage"]) == [rules.DEFECTED, rules.ACTIVE, rules.ACTIVE]
    change = changes.iloc[0]
    assert (change.customer_id, change.rule, change.changed_on) == (1, "membership_ended",
                                                                    ended)
    assert json.loads(change.evidence)["membership_kind"] == "contract"
    assert len(changes) == 1  # active customers seen the first time are no change


def test_a_won_back_customer_is_not_at_risk_and_stays_won_back() -> None:
    first = date(2023, 1, 1)
    previous = pd.DataFrame({"customer_id": [1, 2], "defection_stage": ["defected"] * 2,
                             "defection_since": [date(2024, 3, 1)] * 2})
    stages, changes = _assign([
        _row(1, first=first, last=date(2024, 6, 20), repeats=10, score=0.95),
        _row(2, first=first, last=date(2023, 11, 1), repeats=9),  # nothing since: still gone
    ], previous)
    assert list(stages["defection_stage"]) == [rules.WON_BACK, rules.DEFECTED]
    assert list(stages["defection_since"]) == [date(2024, 6, 20), date(2024, 3, 1)]
    assert list(changes["rule"]) == ["purchase_after_defection"]
    assert changes.iloc[0].changed_on == date(2024, 6, 20)
    # next refresh, a week later, nothing flags her: still won back, no change
    later = date(2024, 7, 7)
    again, more = _assign([_row(1, first=first, last=date(2024, 6, 20), repeats=10,
                                as_of=later)],
                          stages.iloc[[0]].reset_index(drop=True), as_of=later)
    assert again.loc[0, "defection_stage"] == rules.WON_BACK and more.empty


def test_a_one_time_buyer_silent_for_a_year_is_measured_by_the_repeat_buyers_pace() -> None:
    stages, changes = _assign([
        _row(1, first=date(2023, 6, 1), last=date(2023, 6, 1), repeats=0),
        _row(2, first=date(2024, 1, 1), last=date(2024, 6, 1), repeats=5),  # pace 30.4
        _row(3, first=date(2024, 1, 1), last=date(2024, 6, 28), repeats=4),
        _row(4, first=None, last=None, repeats=0),  # never bought: no stage
    ])
    assert stages.loc[0, "defection_stage"] == rules.DEFECTED
    assert stages.loc[3, "defection_stage"] is None
    evidence = json.loads(changes.iloc[0].evidence)
    assert evidence["pace_source"] == "median of repeat buyers (one-time buyer)"


def test_a_high_score_marks_at_risk_on_the_refresh_day_and_a_purchase_recovers() -> None:
    first = date(2024, 1, 1)
    stages, changes = _assign([_row(1, first=first, last=date(2024, 6, 25), repeats=5,
                                    score=0.9)])
    assert stages.loc[0, "defection_stage"] == rules.AT_RISK
    assert (changes.iloc[0].rule, changes.iloc[0].changed_on) == ("score", AS_OF)
    later = date(2024, 7, 10)
    again, more = _assign([_row(1, first=first, last=date(2024, 7, 8), repeats=6,
                                as_of=later)], stages, as_of=later)
    assert again.loc[0, "defection_stage"] == rules.ACTIVE
    assert (more.iloc[0].rule, more.iloc[0].changed_on) == ("purchase", date(2024, 7, 8))


def test_stages_are_vectorised_without_python_loops_over_unchanged_rows() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    first = rng.integers(0, 300, n)
    rows = pd.DataFrame({"customer_id": np.arange(n), "frequency": rng.integers(0, 9, n)
                         .astype(float), "recency": first.astype(float),
                         "T": first + rng.integers(0, 300, n).astype(float),
                         "at_risk": rng.random(n)})
    stages, changes = rules.assign(rows, NO_HISTORY, as_of=AS_OF, limits=LIMITS)
    assert len(stages) == n and set(stages["defection_stage"]) <= set(rules.STAGES)
    assert len(changes) == int((stages["defection_stage"] != rules.ACTIVE).sum())


def test_evidence_lines_are_the_text_pandas_json_encoder_writes_for_each_record() -> None:
    # the evidence is put together column by column; it must be byte for byte the
    # records pandas writes, escapes, nulls and float rounding included
    texts = np.array(["2024-01-01", "a/b", 'q"x', "\u00e9t\u00e9", None, "tab\tend",
                      "back\\slash", "a,b", "{\"k\": 1}", "plain words (here)"], dtype=object)
    n = len(texts)
    part = pd.DataFrame({"text": texts, "number": np.linspace(-3.3, 1e7 / 3, n),
                         "missing": np.where(np.arange(n) % 3 == 0, np.nan, 0.1234567891),
                         "none": [None] * n, "count": np.arange(n),
                         "constant": 2.0})
    expected = part.to_json(orient="records", lines=True, double_precision=6)
    assert rules._json_lines(part).to_pylist() == expected.rstrip("\n").split("\n")
    assert [json.loads(line)["text"] for line in rules._json_lines(part).to_pylist()] \
        == list(texts)
