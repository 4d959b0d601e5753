"""Names, contact details and addresses for persons, drawn from the embedded word lists."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kithkin.simulate import geography, names, vocab
from kithkin.simulate.arrow_ops import choice_index, concat, digits, null_where, take

COUNTRY_CODES = tuple(vocab.COUNTRIES)
# Number prefixes (mobile ranges; US area codes) and the count of random digits that
# follow, checked so that every completion is valid for ``phonenumbers``.
_PHONE_PLANS: dict[str, tuple[tuple[str, ...], int]] = {
    "GB": (("+44 74", "+44 75", "+44 78"), 8),
    "IE": (("+353 83", "+353 85", "+353 86", "+353 87", "+353 89"), 7),
    "US": (("+1 212", "+1 312", "+1 415", "+1 512", "+1 617", "+1 206", "+1 303", "+1 646",
            "+1 718", "+1 305"), 7),
    "DE": (("+49 151", "+49 152", "+49 157", "+49 160", "+49 170", "+49 176"), 8),
    "FR": (("+33 60", "+33 61", "+33 62", "+33 64", "+33 65", "+33 66", "+33 67", "+33 75",
            "+33 76", "+33 77", "+33 78"), 7),
    "NL": (("+31 61", "+31 62", "+31 63", "+31 64", "+31 65", "+31 66", "+31 68"), 7),
}
_EMAIL_FORMATS = (".", "_", "-")  # first.last, first_last, last-first
_KEY_SEPARATORS = ("", "_", "-")  # the same as providers that ignore dots read them
_UPPER = "ABCDEFGHJKLMNPRSTUVWXYZ"


class EmailBook:
    """Hands out mailboxes that stay unique across the whole run after normalisation.

    The k-th person whose mailbox would read the same gets suffix k, as real mailboxes
    do (``john.smith``, ``john.smith1``); counts carry over between chunks. Mailboxes are
    counted as providers that ignore dots see them (``ann.abel`` and ``anna.bel`` are
    both ``annabel@gmail.com``), so addresses stay distinct after
    :func:`kithkin.identity.normalize.normalize_email`.
    """

    def __init__(self) -> None:
        self._keys = pa.array([], pa.string())
        self._counts = np.zeros(0, dtype=np.int64)

    def issue(self, rng: np.random.Generator, first: np.ndarray, last: np.ndarray) -> pa.Array:
        n = len(first)
        fmt = rng.integers(0, len(_EMAIL_FORMATS), n)
        domain = take(vocab.EMAIL_DOMAINS, choice_index(
            rng, n, np.linspace(3, 1, len(vocab.EMAIL_DOMAINS))))
        first_part = names.first_names().mailbox.take(pa.array(first))
        last_part = names.surnames().mailbox.take(pa.array(last))
        reversed_order = pa.array(fmt == 2)
        head = pc.if_else(reversed_order, last_part, first_part)
        tail = pc.if_else(reversed_order, first_part, last_part)
        suffix_number = self._number(concat(head, take(_KEY_SEPARATORS, fmt), tail, "@", domain))
        suffix = pc.if_else(pa.array(suffix_number == 0), "", digits(suffix_number))
        return concat(head, take(_EMAIL_FORMATS, fmt), tail, suffix, "@", domain)

    def _number(self, keys: pa.Array) -> np.ndarray:
        """How many mailboxes with each key were issued before (earlier rows and chunks)."""
        encoded = keys.dictionary_encode()
        group = encoded.indices.to_numpy()
        unique = encoded.dictionary
        order = np.argsort(group, kind="stable")
        sizes = np.bincount(group, minlength=len(unique))
        starts = np.cumsum(sizes) - sizes
        rank = np.empty(len(group), dtype=np.int64)
        rank[order] = np.arange(len(group)) - np.repeat(starts, sizes)
        seen = pc.fill_null(pc.index_in(unique, value_set=self._keys), -1).to_numpy()
        known = seen >= 0
        before = np.zeros(len(unique), dtype=np.int64)
        before[known] = self._counts[seen[known]]
        self._counts[seen[known]] += sizes[known]
        self._keys = pa.concat_arrays([self._keys, unique.filter(pa.array(~known))])
        self._counts = np.concatenate([self._counts, sizes[~known]])
        number: np.ndarray = before[group] + rank
        return number


def draw_people(
    rng: np.random.Generator, n: int, emails: EmailBook, *, company_share: float = 0.05,
    hard: bool = False,
) -> dict[str, pa.Array]:
    """Person records with canonical customer column names (no source or ids).

    ``hard`` places people as a national register does (:mod:`kithkin.simulate.geography`:
    thousands of towns of heavy-tailed sizes, postcodes nested in towns) instead of in the
    31 embedded cities with postcodes drawn apart from the town; the places come from the
    side stream, so every other column is the same for a seed either way.
    """
    first = names.first_names().draw(rng, n)
    last = names.surnames().draw(rng, n)
    country = choice_index(rng, n, [spec[2] for spec in vocab.COUNTRIES.values()])
    has_company = rng.random(n) < company_share
    company = concat(
        take(vocab.COMPANY_STEMS, rng.integers(0, len(vocab.COMPANY_STEMS), n)), " ",
        take(vocab.COMPANY_SUFFIXES, rng.integers(0, len(vocab.COMPANY_SUFFIXES), n)),
    )
    birth_days = rng.integers(-30 * 365, 35 * 365, n).astype(np.int32)  # 1940 to 2005
    date_of_birth = pa.array(birth_days, pa.int32()).cast(pa.date32()).cast(pa.string())
    # A side stream for the columns added later, so the main stream (and every figure
    # drawn from it) stays what it was for a seed.
    side = side_stream(rng)
    unit = concat(take(vocab.UNIT_WORDS, side.integers(0, len(vocab.UNIT_WORDS), n)), " ",
                  digits(side.integers(1, 60, n)))
    person = {
        "first_name": names.first_names().names.take(pa.array(first)),
        "last_name": names.surnames().names.take(pa.array(last)),
        "company": null_where(company, ~has_company),
        "email": null_where(emails.issue(rng, first, last), rng.random(n) < 0.04),
        "phone": null_where(_phones(rng, country), rng.random(n) < 0.2),
        "date_of_birth": null_where(date_of_birth, rng.random(n) < 0.3),
        "address_line": draw_addresses(rng, n),
        "address_line2": null_where(unit, side.random(n) >= 0.15),
        "city": _cities(rng, country),
        "region": pa.nulls(n, pa.string()),
        "postcode": _postcodes(rng, country),
        "country": take(COUNTRY_CODES, country),
    }
    person["region"] = _regions(person["city"])
    if hard:
        person["city"], person["region"], person["postcode"] = geography.gazetteer().draw(
            side, country)
    return person


def side_stream(rng: np.random.Generator) -> np.random.Generator:
    """An independent generator derived from ``rng``'s seed without drawing from it."""
    seed_seq = rng.bit_generator.seed_seq
    assert isinstance(seed_seq, np.random.SeedSequence)
    return np.random.default_rng(seed_seq.spawn(1)[0])


def _regions(city: pa.Array) -> pa.Array:
    keys = list(vocab.CITY_REGIONS)
    index = pc.index_in(city, value_set=pa.array(keys))
    return pa.array(list(vocab.CITY_REGIONS.values()), pa.string()).take(index)


def draw_addresses(rng: np.random.Generator, n: int) -> pa.Array:
    return concat(
        digits(rng.integers(1, 300, n)), " ",
        take(vocab.STREETS, rng.integers(0, len(vocab.STREETS), n)), " ",
        take(vocab.STREET_SUFFIXES, rng.integers(0, len(vocab.STREET_SUFFIXES), n)),
    )


def _cities(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
    cities = [city for spec in vocab.COUNTRIES.values() for city in spec[0]]
    starts = np.cumsum([0] + [len(spec[0]) for spec in vocab.COUNTRIES.values()])
    sizes = np.diff(starts)
    index = starts[country] + (rng.random(len(country)) * sizes[country]).astype(np.int64)
    return take(cities, index)


def _phones(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
    plans = [_PHONE_PLANS[code] for code in COUNTRY_CODES]
    prefixes = [prefix for plan in plans for prefix in plan[0]]
    sizes = np.array([len(plan[0]) for plan in plans])
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    prefix = starts[country] + (rng.random(len(country)) * sizes[country]).astype(np.int64)
    widths = np.array([plan[1] for plan in plans])[country]
    low = 10 ** (widths - 1)
    low = np.where(np.array(COUNTRY_CODES)[country] == "US", 2 * low, low)
    number = low + (rng.random(len(country)) * (10**widths - low)).astype(np.int64)
    return concat(take(prefixes, prefix), digits(number))


def _postcodes(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
    n = len(country)
    letters = [take(_UPPER, rng.integers(0, len(_UPPER), n)) for _ in range(4)]
    gb = concat(letters[0], letters[1], digits(rng.integers(1, 30, n)), " ",
                digits(rng.integers(1, 10, n)), letters[2], letters[3])
    nl = concat(digits(rng.integers(1000, 10000, n)), " ", letters[2], letters[3])
    ie = concat("D", digits(rng.integers(1, 25, n), 2), " ", letters[0],
                digits(rng.integers(0, 1000, n), 3))
    plain = digits(rng.integers(1000, 100000, n), 5)
    code = np.array(COUNTRY_CODES)[country]
    out = pc.if_else(pa.array(code == "GB"), gb, plain)
    out = pc.if_else(pa.array(code == "NL"), nl, out)
    return pc.if_else(pa.array(code == "IE"), ie, out)
