"""The playbooks step after a refresh reads the metrics block the refresh holds in
memory instead of reading it back from the store: the lapse and anniversary rules must
find exactly what they find in the stored metrics."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine

from kithkin.analytics import refresh
from kithkin.config import get_settings
from kithkin.database.core import session_scope
from kithkin.playbooks import triggers
from kithkin.playbooks.definitions import Rule
from tests.analytics import crafted

RULES = [Rule("quiet", "lapse", {"factor": 1.0, "min_orders": 1}, (), window_days=3000),
         Rule("unlikely", "lapse", {"p_alive_below": 0.99}, (), window_days=3000),
         Rule("anniversary", "anniversary", {}, (), window_days=366)]


def test_the_block_in_memory_triggers_as_the_stored_metrics(
        store_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    crafted.load(store_engine)
    given: dict[str, Any] = {}
    real = refresh.run_playbooks

    def keep(**kw: Any) -> None:
        given["metrics"] = kw["metrics"]
        real(**kw)

    monkeypatch.setattr(refresh, "run_playbooks", keep)
    refresh.run(settings=get_settings(), as_of=crafted.AS_OF, store_engine=store_engine)
    block = triggers.metric_columns(given["metrics"])
    assert block is not None
    found = 0
    with session_scope(store_engine) as session:
        stored = triggers.Facts(session, crafted.AS_OF, RULES)
        in_memory = triggers.Facts(session, crafted.AS_OF, RULES)
        in_memory.set_metrics(block)
        for rule in RULES:
            expected = triggers.evaluate(stored, rule, crafted.AS_OF)
            got = triggers.evaluate(in_memory, rule, crafted.AS_OF)
            key = ["customer_id", "occurrence"]
            pd.testing.assert_frame_equal(
                got.sort_values(key).reset_index(drop=True),
                expected.sort_values(key).reset_index(drop=True), check_dtype=False)
            found += len(expected)
    assert found  # the crafted customers trigger something: the comparison means it
