"""Towns, regions and postcodes as a national register holds them (the hard mode's places).

Matching leans on where people live: a postcode or a town shared by two records is
evidence in proportion to how few other people share it, and blocking rules keyed on a
town pair everyone in it. With the 31 embedded cities drawn uniformly and postcodes drawn
independently of the town, a million records put ~55,000 people in every town and let
one postcode span towns and regions, which no register does. Here each country has
thousands of generated towns whose sizes follow Zipf's law for cities (size proportional
to ``1 / rank``; Gabaix 1999, "Zipf's law for cities: an explanation", QJE 114), the
embedded cities first as the largest, so the largest town holds about a tenth of its
country and most towns a few hundred people in a million records. Postcodes nest in towns
the way the national schemes do: a town owns whole blocks of codes (British districts,
Dutch four-digit areas, Irish routing keys, runs of US, German and French five-digit
codes), towns are laid out region by region so that a code's leading characters follow
the region, and a town has as many codes as its real population needs at the scheme's
usual number of people per code (about 40 for a British unit or a Dutch six-character
code, about 9,000 for a ZIP or PLZ). Customers are a sample of that population, so a
postcode holds few of them in Britain and a few dozen in Germany at a million records,
as in real customer files.

The gazetteer is built deterministically (no random numbers from the run), so a seed
always gives the same places, chunk after chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import product

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kithkin.simulate import vocab
from kithkin.simulate.arrow_ops import concat, digits, take

_LAYOUT_SEED = 1999
_UPPER = "ABDEFGHJLNPRSTUWXYZ"  # letters used in the written parts of codes


@dataclass(frozen=True)
class Scheme:
    """A country's postcode scheme and population: ``people_per_code`` real residents per
    code, codes owned by towns in whole blocks of ``block`` codes."""

    population: float
    towns: int
    people_per_code: float
    block: int


SCHEMES: dict[str, Scheme] = {
    "GB": Scheme(67e6, 2000, 40.0, 550),  # unit "AB12 3DE"; a district holds ~550 units
    "IE": Scheme(5e6, 300, 2.6, 14_000),  # Eircode, one per address; routing key "D04"
    "US": Scheme(330e6, 3000, 8000.0, 1),  # ZIP "02139"
    "DE": Scheme(83e6, 2000, 9000.0, 1),  # PLZ "10115"
    "FR": Scheme(68e6, 2000, 11_000.0, 1),  # code postal "75011"
    "NL": Scheme(17.5e6, 400, 40.0, 100),  # "1012 AB"; a four-digit area holds ~100 codes
}

# Town names: language group -> (prefix words, stems, suffixes) of which every
# combination is a name; the embedded cities rank first.
_TownParts = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
_ENGLISH: _TownParts = (
    ("", "North ", "South ", "East ", "West ", "Upper ", "Lower ", "Great ", "Little "),
    ("Ash", "Bar", "Bick", "Black", "Brad", "Bram", "Brock", "Burn", "Cald", "Chel", "Clay",
     "Cold", "Crick", "Dal", "Dun", "Eden", "Elm", "Fair", "Farn", "Glen", "Gran", "Hal",
     "Ham", "Hart", "Hay", "Hol", "Kil", "Kings", "Lang", "Lin", "Mal", "Mar", "Mid",
     "Mill", "New", "Nor", "Oak", "Pen", "Red", "Rich", "Rock", "Sand", "Shep", "Stan",
     "Stock", "Stone", "Sut", "Thorn", "Wal", "Wes", "Whit", "Wick", "Win", "Wood"),
    ("ford", "ton", "ley", "bury", "field", "ham", "wick", "worth", "by", "port", "bridge",
     "minster", "mouth", "stead", "well", "dale", "more", "hurst", "combe", "wood",
     "ville", "brook"),
)
_GERMAN: _TownParts = (
    ("", "Bad ", "Neu", "Alt", "Ober", "Unter", "Gross", "Klein"),
    ("Ahr", "Bern", "Bitt", "Brems", "Dorn", "Eich", "Eller", "Frank", "Fried", "Gold",
     "Hal", "Hart", "Hild", "Hohen", "Kirch", "Lahn", "Lind", "Mar", "Mühl", "Nord",
     "Oster", "Rosen", "Sachs", "Schön", "Stein", "Tann", "Wald", "Wein", "Wies", "Wolf"),
    ("burg", "dorf", "hausen", "heim", "stadt", "bach", "feld", "berg", "au", "rode",
     "ingen", "hof", "tal", "brück"),
)
_FRENCH: _TownParts = (
    ("", "Saint-", "Sainte-", "Le ", "La ", "Mont", "Ville"),
    ("Aub", "Beau", "Bel", "Bourg", "Bris", "Cham", "Char", "Cler", "Cour", "Dam", "Font",
     "Gor", "Gren", "Lan", "Mais", "Mar", "Mor", "Neuf", "Pont", "Riv", "Roch", "Roque",
     "Sel", "Ton", "Val", "Vern", "Vil"),
    ("ville", "court", "mont", "ac", "y", "ais", "ières", "euil", "bourg", "sur-Mer",
     "ange", "ay", "on", "ette"),
)
_DUTCH: _TownParts = (
    ("", "Oud-", "Nieuw-", "Groot-", "Klein-"),
    ("Aal", "Ber", "Bos", "Del", "Dor", "Ede", "Gor", "Haar", "Hil", "Hoog", "Leer",
     "Mep", "Oost", "Rijn", "Ste", "Vlaar", "Waal", "West", "Zand", "Zwol"),
    ("dam", "dijk", "veen", "hoven", "horst", "wijk", "broek", "drecht", "kerk", "rode",
     "sum", "weerd"),
)
_LANGUAGE = {"GB": _ENGLISH, "IE": _ENGLISH, "US": _ENGLISH, "DE": _GERMAN,
             "FR": _FRENCH, "NL": _DUTCH}


@dataclass(frozen=True)
class _Country:
    names: list[str]
    regions: list[str]
    cumulative: np.ndarray  # draw probabilities of the towns, cumulative
    first_code: np.ndarray  # each town's first code number in the country's scheme
    codes: np.ndarray  # how many codes each town owns


@dataclass(frozen=True)
class Gazetteer:
    """Every country's towns (largest first), their regions and postcode ranges."""

    countries: dict[str, _Country]

    def draw(self, rng: np.random.Generator, country: np.ndarray
             ) -> tuple[pa.Array, pa.Array, pa.Array]:
        """Town, region and postcode for people of ``country`` (indices into
        :data:`vocab.COUNTRIES`): a town by its size, a code of that town at random."""
        n = len(country)
        city: list[pa.Array] = []
        region: list[pa.Array] = []
        postcode: list[pa.Array] = []
        rows: list[np.ndarray] = []
        for index, code in enumerate(vocab.COUNTRIES):
            here = np.flatnonzero(country == index)
            if not len(here):
                continue
            spec = self.countries[code]
            town = np.minimum(np.searchsorted(spec.cumulative, rng.random(len(here)),
                                              side="right"), len(spec.names) - 1)
            number = spec.first_code[town] + (
                rng.random(len(here)) * spec.codes[town]).astype(np.int64)
            city.append(take(spec.names, town))
            region.append(take(spec.regions, town))
            postcode.append(_format(code, number, int(spec.codes.sum())))
            rows.append(here)
        order = np.argsort(np.concatenate(rows) if rows else np.zeros(0, np.int64),
                           kind="stable")

        def gather(parts: list[pa.Array]) -> pa.Array:
            joined = pa.concat_arrays(parts) if parts else pa.array([], pa.string())
            return joined.take(pa.array(order)) if n else joined

        return gather(city), gather(region), gather(postcode)


@cache
def gazetteer() -> Gazetteer:
    return Gazetteer({code: _country(code, spec[0]) for code, spec in vocab.COUNTRIES.items()})


def _country(code: str, embedded: tuple[str, ...]) -> _Country:
    scheme = SCHEMES[code]
    layout = np.random.default_rng([_LAYOUT_SEED, list(SCHEMES).index(code)])
    names = _town_names(embedded, _LANGUAGE[code], scheme.towns, layout)
    region_names = vocab.REGIONS[code]
    regions = [vocab.CITY_REGIONS[name] for name in embedded] + [
        region_names[i] for i in layout.integers(0, len(region_names),
                                                 scheme.towns - len(embedded))]
    share = 1.0 / np.arange(1, scheme.towns + 1)
    share /= share.sum()
    per_block = scheme.people_per_code * scheme.block
    codes = scheme.block * np.maximum(1, np.ceil(share * scheme.population / per_block))
    # Towns laid out region by region (in a fixed shuffled order of regions), so the
    # leading characters of a code say the region, as ZIP, PLZ and outward codes do.
    region_rank = {name: rank for rank, name in
                   enumerate(layout.permutation(sorted(set(regions))).tolist())}
    layout_order = np.lexsort((np.arange(scheme.towns),
                               np.array([region_rank[r] for r in regions])))
    first_code = np.empty(scheme.towns, dtype=np.int64)
    first_code[layout_order] = np.cumsum(codes[layout_order]) - codes[layout_order]
    return _Country(names=names, regions=regions, cumulative=np.cumsum(share),
                    first_code=first_code, codes=codes.astype(np.int64))


def _town_names(embedded: tuple[str, ...], parts: _TownParts, count: int,
                layout: np.random.Generator) -> list[str]:
    """The embedded cities, then ``count`` minus those composed names, in a fixed
    shuffled order (so rank does not follow the alphabet)."""
    prefixes, stems, suffixes = parts
    seen = set(embedded)
    composed = []
    for prefix, stem, suffix in product(prefixes, stems, suffixes):
        # A prefix joined without a space or hyphen makes one word ("Neustein").
        name = prefix + (stem if prefix[-1:] in ("", " ", "-") else stem.lower()) + suffix
        if name not in seen:
            seen.add(name)
            composed.append(name)
    needed = count - len(embedded)
    if needed > len(composed):
        raise ValueError(f"only {len(composed)} town names for {count} towns")
    order = layout.permutation(len(composed))[:needed]
    return list(embedded) + [composed[i] for i in order]


def _letters(values: np.ndarray, count: int) -> pa.Array:
    """``values`` written as ``count`` letters of :data:`_UPPER`, most significant first."""
    base = len(_UPPER)
    parts = [take(_UPPER, (values // base**k) % base) for k in range(count - 1, -1, -1)]
    return concat(*parts)


def _format(code: str, number: np.ndarray, total: int) -> pa.Array:
    """Code number ``number`` of a country whose towns own ``total`` codes, written in
    the country's scheme; consecutive numbers share their leading characters."""
    block = SCHEMES[code].block
    outer, inner = number // block, number % block
    if code == "GB":  # area letters, district number, sector digit, unit letters
        area = _letters(outer // 60, 2)
        return concat(area, digits(outer % 60 + 1), " ", digits(inner % 10),
                      _letters(inner // 10, 2))
    if code == "NL":  # four-digit area, two letters
        stride = max(1, 9000 // max(1, total // block))
        return concat(digits(1000 + outer * stride), " ", _letters(inner, 2))
    if code == "IE":  # routing key, then a unique identifier per address
        key = concat(take(_UPPER, (outer // 99) % len(_UPPER)), digits(outer % 99 + 1, 2))
        return concat(key, " ", take(_UPPER, (inner // 1000) % len(_UPPER)),
                      digits(inner % 1000, 3))
    stride = max(1, 98_000 // max(1, total))  # five digits from 01000
    return digits(1000 + number * stride, 5)


def town_sizes(city: pa.Array) -> np.ndarray:
    """People per town in ``city``, largest first (for checks and the docs)."""
    counts = pc.value_counts(city).field("counts").to_numpy()
    return np.sort(counts)[::-1]
