"""Thousands of realistic first and last names, built from the embedded word lists.

Real populations have tens of thousands of surnames with a long-tailed frequency: a few
are common (Smith is about 1% in the UK and US) and most are rare. With only the ~90
names of :mod:`kithkin.simulate.vocab` every full name would be shared by over a hundred
people in a million, so name agreement would carry almost no evidence and identity
resolution would be tested on an unrealistically hard population. Here surnames are
composed from stems and suffixes of several languages ("Nielsberg", "Hansford",
"Marinelli", "Dobrowski") and first names from stems and endings; the embedded names
come first, as the most common. Frequencies follow a Zipf-Mandelbrot law
``w(r) = 1 / (r + q)``, which fits surname and given-name rank-frequency curves well
(Zanette & Manrubia 2001, "Vertical transmission of culture and the distribution of
family names", Physica A 295; Fox & Lasker 1983, "The distribution of surname
frequencies", Int. Stat. Rev. 51). The offset ``q`` flattens the head so that the top
surname has about 0.4% and the top 1000 about half of the population.

Pools are built deterministically (no random numbers), so a seed always gives the same
people.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import product

import numpy as np
import pyarrow as pa

from kithkin.simulate import vocab

# language group -> (stems, linking syllables, suffixes); every combination is a name.
_Parts = tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...]
_SURNAME_PARTS: _Parts = (
    (  # English, German, Scandinavian and Dutch stems share Germanic suffixes
        (
            "Ash", "Ald", "Ather", "Bar", "Bel", "Black", "Blan", "Brad", "Bram", "Brook",
            "Brock", "Bur", "Cald", "Carl", "Chat", "Clif", "Craw", "Dal", "Dun", "East",
            "Eld", "Ever", "Fair", "Fern", "Ford", "Gar", "Glad", "Good", "Gran", "Green",
            "Hal", "Hans", "Har", "Hart", "Hat", "Haw", "Hay", "Hol", "Hun", "Ing", "Jen",
            "Ken", "Kings", "Lang", "Lan", "Lid", "Lin", "Lock", "Mad", "Mar", "Mid", "Mill",
            "Mor", "Nor", "New", "Oak", "Ox", "Pen", "Ped", "Rad", "Ram", "Red", "Rich",
            "Rock", "Rush", "Sal", "Sand", "Sel", "Shel", "Stan", "Stock", "Strat", "Sut",
            "Thorn", "Tren", "Wad", "Wal", "War", "Wes", "Whit", "Wil", "Win", "Wood", "Wynd",
            "Alt", "Brenn", "Eisen", "Fried", "Gold", "Hoch", "Hof", "Kirch", "Klein",
            "Kron", "Lich", "Neu", "Ober", "Rosen", "Schaf", "Schwarz", "Stein", "Weiss",
            "Wolf", "Zimmer", "Ander", "Berg", "Dahl", "Holm", "Jens", "Lars", "Lind",
            "Niels", "Olof", "Peder", "Sven", "Strand", "Tor", "Ulf", "Vest", "Bos", "Dijk",
            "Groen", "Hoog", "Kool", "Mol", "Veld", "Wit",
        ),
        ("", "en", "el", "ing"),
        (
            "ford", "ton", "ley", "wood", "field", "by", "well", "son", "sen", "man", "mann",
            "er", "worth", "ham", "more", "ridge", "dale", "brook", "stone", "hurst", "wick",
            "combe", "berg", "berger", "gren", "qvist", "strom", "lund", "dahl", "holm",
            "feld", "bach", "stein", "hauser", "meier", "burg", "thal", "horn", "rath",
            "kamp", "dijk", "hout", "stra", "inga",
        ),
    ),
    (  # Italian, Spanish and Portuguese
        (
            "Bel", "Bian", "Carb", "Cas", "Ross", "Marin", "Fer", "Gall", "Mor", "Ser",
            "Vit", "Rin", "Bon", "Cal", "Cap", "Col", "Fal", "Gar", "Lom", "Luc", "Mar",
            "Mont", "Nav", "Ort", "Pal", "Pes", "Ram", "San", "Sol", "Tor", "Val", "Vid",
            "Alm", "Bar", "Cor", "Dom", "Est", "Fons", "Guer", "Ped",
        ),
        ("", "ar", "ol"),
        ("elli", "etti", "ini", "oni", "ucci", "ano", "ez", "ero", "ella", "one", "ardi",
         "asso", "eira", "ada", "illo", "ato", "enza", "iro"),
    ),
    (  # Polish, Czech, Balkan and Ukrainian
        (
            "Kowal", "Nov", "Wis", "Lewand", "Zielin", "Dobr", "Petr", "Pavl", "Horv",
            "Kral", "Sok", "Jab", "Kaz", "Mak", "Rad", "Stan", "Tom", "Vasil", "Wol",
            "Zaj", "Bor", "Grab", "Kub", "Lis", "Mich", "Ostr", "Sad", "Wal", "Wro", "Zar",
        ),
        ("", "ow", "in"),
        ("ski", "ska", "owski", "ak", "ik", "ic", "ovic", "ov", "enko", "czyk", "uk", "ek"),
    ),
    (  # Irish and Scottish
        ("Mac", "Mc"),
        ("",),
        ("Bride", "Carthy", "Donald", "Gowan", "Intyre", "Kenna", "Laren", "Mahon",
         "Namara", "Neill", "Pherson", "Quaid", "Rory", "Sweeney", "Tavish", "Kay"),
    ),
)
_FIRST_NAME_PARTS: _Parts = (
    (
        (
            "Al", "Ben", "Car", "Dan", "El", "Fre", "Gar", "Han", "Is", "Jo", "Kar", "Le",
            "Mar", "Nik", "Ol", "Ros", "Sil", "Tom", "Vic", "Wil", "Ad", "Bri", "Cel",
            "Dor", "Ed", "Fel", "Gil", "Hel", "Iv", "Jul", "Kat", "Lor", "Mil", "Nor", "Or",
            "Pet", "Ren", "Sim", "Tess", "Val", "Ver", "Yas", "Zan", "Am", "Ber", "Cor",
            "Em", "Ger", "Lin", "Rob",
        ),
        ("",),
        ("a", "an", "ina", "o", "ie", "ette", "ias", "en", "is", "ia", "ard", "ric",
         "bert", "win", "la", "elle", "on", "ena", "ian", "ya", "us", "ine", "ey", "ko"),
    ),
)
_SURNAME_OFFSET = 50.0
_FIRST_NAME_OFFSET = 10.0
_ORDER_SEED = 1983


@dataclass(frozen=True)
class NamePool:
    """Distinct names, their mailbox spellings and cumulative draw probabilities."""

    names: pa.Array
    mailbox: pa.Array
    cumulative: np.ndarray

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` name indices, common names more often (Zipf-Mandelbrot by rank)."""
        index = np.searchsorted(self.cumulative, rng.random(n), side="right")
        clipped: np.ndarray = np.minimum(index, len(self.names) - 1)
        return clipped


def _compose(embedded: tuple[str, ...], parts: _Parts) -> list[str]:
    """Embedded names first, then every composed name not already present, shuffled.

    The shuffle (fixed seed, independent of the run's seed) mixes languages and stems
    along the rank, so common and rare composed names come from every group.
    """
    seen = {name.lower() for name in embedded}
    composed: list[str] = []
    for stems, links, suffixes in parts:
        for stem, link, suffix in product(stems, links, suffixes):
            name = stem + link + suffix
            if name.lower() not in seen:
                seen.add(name.lower())
                composed.append(name)
    order = np.random.default_rng(_ORDER_SEED).permutation(len(composed))
    return list(embedded) + [composed[i] for i in order]


def _pool(names: list[str], offset: float) -> NamePool:
    ranks = np.arange(1, len(names) + 1, dtype=np.float64)
    cumulative = np.cumsum(1.0 / (ranks + offset))
    return NamePool(
        names=pa.array(names, pa.string()),
        mailbox=pa.array([name.lower().replace(" ", "") for name in names], pa.string()),
        cumulative=cumulative / cumulative[-1],
    )


@cache
def surnames() -> NamePool:
    return _pool(_compose(vocab.LAST_NAMES, _SURNAME_PARTS), _SURNAME_OFFSET)


@cache
def first_names() -> NamePool:
    return _pool(_compose(vocab.FIRST_NAMES, _FIRST_NAME_PARTS), _FIRST_NAME_OFFSET)
