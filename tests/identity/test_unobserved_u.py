"""Levels the u sample never reaches get an explicit u that survives saving the model."""

from __future__ import annotations

import logging
from pathlib import Path

from splink import Linker
from sqlalchemy import Engine

from kithkin.config import get_settings
from kithkin.database.core import session_scope
from kithkin.identity import features, resolution, splink_adapter, synthetic


def _u_values(linker: Linker) -> dict[str, float | None]:
    return {f"{name}: {level.label}": level.u_probability
            for name, levels in splink_adapter.comparisons(linker).items()
            for level in levels if not level.is_null}


def _unobserved(linker: Linker) -> list[str]:
    return [f"{name}: {level.label}"
            for name, levels in splink_adapter.comparisons(linker).items()
            for level in levels if not level.u_trained and not level.is_null]


def test_unobserved_u_is_filled_and_saved(sqlite_engine: Engine, tmp_path: Path) -> None:
    customers, _ = synthetic.generate(persons=300, duplicates_rate=0.2, seed=5)
    synthetic.load_customers(sqlite_engine, customers)
    with session_scope(sqlite_engine) as session:
        frame, _ = features.load_match_table(session=session, settings=get_settings())
    api = resolution.database_api(get_settings())
    linker = Linker(api.register(frame, table_name="unobserved_u"),
                    resolution.splink_settings("duckdb"), log_level=logging.WARNING)
    linker.training.estimate_u_using_random_sampling(max_pairs=500, seed=1)
    unobserved = _unobserved(linker)
    assert unobserved  # 500 random pairs never share an email or a phone

    resolution._fill_unobserved_u(linker, sampled_pairs=500)
    filled = _u_values(linker)
    assert all(filled[label] == 0.5 / 500 for label in unobserved)
    path = tmp_path / "model.json"
    linker.misc.save_model_to_json(str(path), overwrite=True)
    reloaded = Linker(api.register(frame, table_name="unobserved_u_reloaded"), str(path),
                      log_level=logging.WARNING)
    assert _u_values(reloaded) == _u_values(linker)
