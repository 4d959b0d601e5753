"""One small simulated business shared by the simulator tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.csv as pacsv
import pytest

from kithkin.simulate import SimulationSummary, simulate_business

CUSTOMERS = 4000
SEED = 11


class Business:
    """Lazy access to the files of one run as pandas frames."""

    def __init__(self, summary: SimulationSummary) -> None:
        self.summary = summary
        self._frames: dict[str, pd.DataFrame] = {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._frames:
            path = self.summary.files[name]
            self._frames[name] = pacsv.read_csv(
                path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True)
            ).to_pandas()
        return self._frames[name]


@pytest.fixture(scope="session")
def business(tmp_path_factory: pytest.TempPathFactory) -> Business:
    out = tmp_path_factory.mktemp("business")
    return Business(simulate_business(customers=CUSTOMERS, years=3, seed=SEED, out_dir=out))


def header(path: Path) -> list[str]:
    return path.read_text().split("\n", 1)[0].replace('"', "").split(",")
