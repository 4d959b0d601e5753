"""The one module that touches Splink internals: what it reads and what it puts back."""

from __future__ import annotations

import logging
import math

import pytest
from splink import Linker
from sqlalchemy import Engine

from kithkin.config import get_settings
from kithkin.database.core import session_scope
from kithkin.identity import features, resolution, splink_adapter, synthetic
from kithkin.identity.splink_adapter import Level


@pytest.fixture
def linker(sqlite_engine: Engine) -> Linker:
    customers, _ = synthetic.generate(persons=80, duplicates_rate=0.2, seed=3)
    synthetic.load_customers(sqlite_engine, customers)
    with session_scope(sqlite_engine) as session:
        frame, _ = features.load_match_table(session=session, settings=get_settings())
    api = resolution.database_api(get_settings())
    return Linker(api.register(frame, table_name="adapter"), resolution.splink_settings("duckdb"),
                  log_level=logging.WARNING)


def test_comparisons_list_every_level_with_the_null_level_first(linker: Linker) -> None:
    found = splink_adapter.comparisons(linker)
    weighed = 0
    assert list(found) == ["first_name_last_name", "dob", "email", "phone", "location"]
    for levels in found.values():
        assert levels[0].is_null and levels[0].match_weight == 0.0
        assert all(isinstance(level, Level) and level.label for level in levels)
        # The weight read from Splink is the level's log2(m / u), not a stale value.
        for level in levels[1:]:
            if not level.is_null and level.m_probability and level.u_probability:
                assert level.match_weight == pytest.approx(
                    math.log2(level.m_probability / level.u_probability))
                weighed += 1
    assert weighed > 10
    # The one null level after the first: a date too damaged to compare counts as none.
    later = [(name, level.label) for name, levels in found.items() for level in levels[1:]
             if level.is_null]
    assert later == [("dob", "An impossible date, more than one edit apart")]


def test_a_failed_block_puts_the_model_back(linker: Linker) -> None:
    before = splink_adapter.comparisons(linker)
    with pytest.raises(RuntimeError), splink_adapter.model_restored_on_error(linker):
        assert splink_adapter.fill_untrained_u(linker, 0.25) > 0
        assert splink_adapter.comparisons(linker) != before
        raise RuntimeError("EM failed")
    assert splink_adapter.comparisons(linker) == before
