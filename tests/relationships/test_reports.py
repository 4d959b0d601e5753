"""Transition matrix, funnel and time in stage on a crafted history."""

from __future__ import annotations

from datetime import date

import pandas as pd

from kithkin.relationships.reports import (
    CHANGE_COLUMNS,
    funnel,
    stages_at,
    time_in_stage,
    transition_matrix,
)

STAGES = ["stranger", "acquaintance", "friend", "partner"]
RANK = {name: rank for rank, name in enumerate(STAGES)}
JAN, FEB, MAR, APR = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)

# customer: moves (as_of, to_stage)
MOVES = {
    1: [(JAN, "stranger"), (FEB, "acquaintance"), (MAR, "friend")],
    2: [(JAN, "acquaintance"), (FEB, "friend"), (APR, "acquaintance")],
    3: [(JAN, "friend"), (MAR, "partner")],
    4: [(JAN, "acquaintance")],
    5: [(MAR, "stranger")],  # first seen after the period start
}


def _history() -> pd.DataFrame:
    rows = []
    for customer, moves in MOVES.items():
        previous = None
        for as_of, stage in moves:
            direction = ("new" if previous is None
                         else "up" if RANK[stage] > RANK[previous] else "down")
            rows.append((customer, as_of, previous, stage,
                         None if previous is None else RANK[previous], RANK[stage],
                         direction))
            previous = stage
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS).sort_values("as_of", kind="stable")


def test_stage_on_a_date() -> None:
    assert stages_at(_history(), FEB).sort_index().to_dict() == {
        1: "acquaintance", 2: "friend", 3: "friend", 4: "acquaintance"}


def test_transition_matrix_counts_and_rates() -> None:
    counts, rates = transition_matrix(_history(), STAGES, JAN, APR)
    assert counts.loc["stranger"].tolist() == [0, 0, 1, 0]  # 1: stranger -> friend
    assert counts.loc["acquaintance"].tolist() == [0, 2, 0, 0]  # 2 back down, 4 stays
    assert counts.loc["friend"].tolist() == [0, 0, 0, 1]  # 3 -> partner
    assert counts.loc["partner"].tolist() == [0, 0, 0, 0]
    assert counts.loc["(none)"].tolist() == [1, 0, 0, 0]  # 5 arrived later
    assert int(counts.to_numpy().sum()) == 5
    assert rates.loc["acquaintance", "acquaintance"] == 1.0
    assert rates.loc["partner"].tolist() == [0.0, 0.0, 0.0, 0.0]

    counts, rates = transition_matrix(_history(), STAGES, FEB, MAR)
    assert counts.loc["acquaintance"].tolist() == [0, 1, 1, 0]  # 4 stays, 1 up
    assert rates.loc["acquaintance"].tolist() == [0.0, 0.5, 0.5, 0.0]
    assert counts.loc["friend"].tolist() == [0, 0, 1, 1]  # 2 stays, 3 up


def test_funnel_between_adjacent_stages() -> None:
    table = funnel(_history(), STAGES)
    # best stage ever: 1 friend, 2 friend, 3 partner, 4 acquaintance, 5 stranger
    assert table["reached"].tolist() == [5, 4, 3, 1]
    assert table["conversion_to_next"].tolist()[:3] == [0.8, 0.75, 0.3333]
    assert table["reached"].tolist() == funnel(_history(), STAGES, APR)["reached"].tolist()
    assert funnel(_history(), STAGES, JAN)["reached"].tolist() == [4, 3, 1, 0]


def test_time_in_stage_with_open_spells() -> None:
    table = time_in_stage(_history(), STAGES, APR).set_index("stage")
    # friend: 2 completed spells (2: Feb->Apr 59 days, 3: Jan->Mar 59 days), 1 open
    # (1: Mar->Apr, 31 days)
    assert table.loc["friend"].tolist() == [2, 59.0, 1, 31.0]
    # acquaintance: completed 1 (Feb->Mar 28 d), 2 (Jan->Feb 31 d); open 2 (0 d), 4 (90 d)
    assert table.loc["acquaintance"].tolist() == [2, 29.5, 2, 45.0]
    partner = table.loc["partner"]
    assert (partner["completed_spells"], partner["current_customers"]) == (0, 1)
    assert pd.isna(partner["mean_days_completed"]) and partner["mean_days_so_far"] == 31.0
