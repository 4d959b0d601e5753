"""Hard mode's places: many towns of heavy-tailed sizes, postcodes nested in towns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kithkin.simulate import geography, simulate_business, vocab
from kithkin.simulate.people import EmailBook, draw_people

N = 200_000


@pytest.fixture(scope="module")
def places() -> pd.DataFrame:
    person = draw_people(np.random.default_rng(7), N, EmailBook(), hard=True)
    return pd.DataFrame({k: person[k].to_pandas() for k in ("city", "region", "postcode",
                                                           "country")})


def test_town_sizes_are_heavy_tailed(places: pd.DataFrame) -> None:
    sizes = places["city"].value_counts().to_numpy()
    assert len(sizes) > 3000  # not a few dozen cities
    assert 0.02 < sizes[0] / N < 0.08  # the largest town: a capital's share, not more
    assert sizes[:31].sum() / N < 0.45  # most people live outside the 31 largest towns
    assert np.median(sizes) < 20  # and most towns are small
    # Zipf's law for cities: log size falls about one for one with log rank.
    ranks = np.arange(10, 1000)
    slope = np.polyfit(np.log(ranks + 1), np.log(sizes[ranks]), 1)[0]
    assert -1.3 < slope < -0.7


def test_postcodes_nest_in_towns_and_follow_regions(places: pd.DataFrame) -> None:
    by_code = places.groupby(["country", "postcode"])
    assert (by_code["city"].nunique() == 1).all()  # a code belongs to one town
    assert (places.groupby(["country", "city"])["region"].nunique() == 1).all()
    # Towns own runs of codes laid out region by region: the leading characters of a
    # code mostly tell its region (as a ZIP's first digits tell the state).
    for country, leading in (("US", 3), ("DE", 3), ("GB", 2), ("NL", 3)):
        rows = places[places["country"] == country]
        head = rows["postcode"].str[:leading]
        purity = rows.groupby(head)["region"].agg(lambda r: r.value_counts().iloc[0]).sum()
        assert purity / len(rows) > 0.9, country


def test_postcodes_are_fine_where_the_scheme_is(places: pd.DataFrame) -> None:
    per_code = places.groupby("country")["postcode"].agg(lambda c: len(c) / c.nunique())
    assert per_code["GB"] < 1.5 and per_code["NL"] < 1.5  # ~40 residents per code
    assert per_code["DE"] > 2 * per_code["US"] > 2  # ~9,000 residents per PLZ or ZIP
    assert places.loc[places["country"] == "GB", "postcode"].str.fullmatch(
        r"[A-Z]{2}\d{1,2} \d[A-Z]{2}").all()
    assert places.loc[places["country"].isin(["US", "DE", "FR"]), "postcode"].str.fullmatch(
        r"\d{5}").all()


def test_hard_mode_changes_only_the_places() -> None:
    normal = draw_people(np.random.default_rng(3), 5000, EmailBook())
    hard = draw_people(np.random.default_rng(3), 5000, EmailBook(), hard=True)
    for column in normal:
        same = normal[column].equals(hard[column])
        assert same == (column not in ("city", "region", "postcode")), column
    embedded = {city for spec in vocab.COUNTRIES.values() for city in spec[0]}
    assert set(normal["city"].to_pylist()) <= embedded
    assert len(set(hard["city"].to_pylist()) - embedded) > 500


def test_the_gazetteer_is_fixed_and_puts_embedded_cities_first() -> None:
    towns = geography.gazetteer().countries["GB"].names
    assert towns[:len(vocab.COUNTRIES["GB"][0])] == list(vocab.COUNTRIES["GB"][0])
    assert len(set(towns)) == len(towns) == geography.SCHEMES["GB"].towns
    first = geography.gazetteer().draw(np.random.default_rng(1), np.zeros(50, np.int64))
    again = geography.gazetteer().draw(np.random.default_rng(1), np.zeros(50, np.int64))
    assert all(a.equals(b) for a, b in zip(first, again, strict=True))


def test_simulated_hard_customers_live_in_many_towns(tmp_path: Path) -> None:
    summary = simulate_business(customers=3000, years=1, seed=5, hard=True,
                                duplicates_rate=0.2, out_dir=tmp_path)
    customers = pd.read_csv(summary.files["customers"], keep_default_na=False)
    shop = customers[customers["source"] == "shop"]
    assert shop["city"].nunique() > 300
    assert (shop.groupby(["country", "postcode"])["city"].nunique() == 1).all()
