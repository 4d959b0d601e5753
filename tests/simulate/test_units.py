"""Building blocks: ISO timestamps, typos, the CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
from typer.testing import CliRunner

from kithkin.cli.main import app
from kithkin.simulate.typos import add_typos
from kithkin.simulate.writer import iso_utc


def test_iso_utc_matches_the_standard_library() -> None:
    rng = np.random.default_rng(0)
    seconds = np.r_[rng.integers(-2_000_000_000, 4_000_000_000, 500), 0, 951_782_400]
    valid = rng.random(len(seconds)) < 0.9
    text = iso_utc(seconds, valid).to_pylist()
    for value, ok, formatted in zip(seconds, valid, text, strict=True):
        if ok:
            assert formatted == datetime.fromtimestamp(int(value), UTC).isoformat()
        else:
            assert formatted is None


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def test_typos_make_one_small_edit_and_keep_the_first_letter() -> None:
    names = ["Johnson", "Kowalski", "Li", None, "Élodie", "de Vries"] * 50
    selected = np.arange(len(names)) % 2 == 0
    typed = add_typos(np.random.default_rng(1), pa.array(names, pa.string()), selected)
    changed = 0
    for before, after, chosen in zip(names, typed.to_pylist(), selected, strict=True):
        if before is None or not chosen or len(before) < 3:
            assert after == before
            continue
        # A transposition counts as two single-character edits.
        assert _edit_distance(before, after) <= 2
        assert after[0] == before[0]
        changed += after != before
    assert changed > 0.8 * sum(1 for n, s in zip(names, selected, strict=True)
                               if s and n is not None and len(n) >= 3)


def test_cli_writes_the_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--customers", "200", "--years", "1",
                                      "--seed", "3", "--format", "parquet", "--hard",
                                      str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "transactions.parquet").exists()
    assert (tmp_path / "out" / "truth" / "params.json").exists()
    assert "customers.parquet" in result.output
