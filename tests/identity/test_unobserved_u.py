"""Levels the u sample never reaches get an explicit u that survives saving the model."""

from __future__ import annotations

import logging
from pathlib import Path

from splink import Linker
from sqlalchemy import Engine

from kithkin.database.core import session_scope
from kithkin.identity import features, resolution, synthetic


def _u_values(linker: Linker) -> dict[str, float | None]:
    return {
        f"{comparison.output_column_name}: {level.label_for_charts}": level.u_probability
        for comparison in linker._settings_obj.comparisons
        for level in comparison.comparison_levels if not level.is_null_level
    }


def test_unobserved_u_is_filled_and_saved(sqlite_engine: Engine, tmp_path: Path) -> None:
    customers, _ = synthetic.generate(persons=300, duplicates_rate=0.2, seed=5)
    synthetic.load_customers(sqlite_engine, customers)
    with session_scope(sqlite_engine) as session:
        frame, _ = features.load_match_table(session=session)
    api = resolution.database_api("duckdb")
    linker = Linker(api.register(frame, table_name="unobserved_u"),
                    resolution.splink_settings("duckdb"), log_level=logging.WARNING)
    linker.training.estimate_u_using_random_sampling(max_pairs=500, seed=1)
    unobserved = [level for comparison in linker._settings_obj.comparisons
                  for level in comparison.comparison_levels if not level._u_is_trained]
    assert unobserved  # 500 random pairs never share an email or a phone

    resolution._fill_unobserved_u(linker, sampled_pairs=500)
    assert all(level.u_probability == 0.5 / 500 for level in unobserved)
    path = tmp_path / "model.json"
    linker.misc.save_model_to_json(str(path), overwrite=True)
    reloaded = Linker(api.register(frame, table_name="unobserved_u_reloaded"), str(path),
                      log_level=logging.WARNING)
    assert _u_values(reloaded) == _u_values(linker)
