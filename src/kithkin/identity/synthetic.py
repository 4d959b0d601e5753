"""Synthetic customers with known duplicates, for quality tests and the benchmark.

Writes the same shape as ``kithkin simulate`` (customers with sources ``shop`` and ``crm``;
truth as ``cluster_id, source, external_id``) but only the customer table, so a million
people take seconds. Persons get Zipf-distributed names (common names collide, as in real
files) and households share an address, surname and landline (hard non-matches). Each
duplicate is a second record in ``crm`` degraded by the simulator's own generator
(:func:`kithkin.simulate.duplicates.perturb`: typos, swapped names, gaps, email aliases,
national phone formats, moves), so both data sets share one model of duplicates.
``hard=True`` raises every noise rate.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, func, insert, select

from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.identity.normalize import normalize_email
from kithkin.simulate import duplicates

_ONSETS = ("b", "br", "c", "ch", "d", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p",
           "r", "s", "sh", "st", "t", "th", "v", "w", "y", "z")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ie", "ou", "y")
_CODAS = ("", "n", "r", "l", "s", "th", "ck", "m", "nd", "rt", "ll", "ng", "ss", "x")
_STREETS = ("Station", "Church", "Park", "Victoria", "Green", "Manor", "Mill", "Queen",
            "King", "Oak", "Elm", "Maple", "Cedar", "Lake", "Hill", "Bridge", "Market",
            "School", "Castle", "Garden", "Meadow", "River", "North", "Chapel", "Orchard")
_SUFFIXES = ("Street", "Road", "Lane", "Avenue", "Close", "Way", "Drive", "Place")
_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com",
            "proton.me", "fastmail.com", "web.de", "orange.fr", "example.net")
_AREA_CODES = ("212", "415", "312", "617", "206", "303", "512", "404", "305", "702")


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(
        rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables)
    ) + rng.choice(_CODAS)


def _vocabulary(rng: random.Random, size: int) -> tuple[list[str], list[float]]:
    words = sorted({_word(rng, rng.choice((1, 2, 2, 3))).capitalize() for _ in range(size)})
    rng.shuffle(words)
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(words))]  # Zipf-like
    return words, list(accumulate(weights))


class _People:
    def __init__(self, rng: random.Random, persons: int) -> None:
        self.rng = rng
        self.first, self.first_w = _vocabulary(rng, max(400, persons // 200))
        self.last, self.last_w = _vocabulary(rng, max(2_000, persons // 20))
        self.cities = [(_word(rng, 2).capitalize(), f"{rng.randrange(10_000, 99_000):05d}")
                       for _ in range(max(50, persons // 2_000))]

    def address(self) -> tuple[str, str, str]:
        city, zip_base = self.rng.choice(self.cities)
        zip_code = f"{int(zip_base) + self.rng.randrange(40):05d}"
        line = (f"{self.rng.randrange(1, 400)} {self.rng.choice(_STREETS)} "
                f"{self.rng.choice(_SUFFIXES)}")
        return line, city, zip_code

    def phone(self) -> str:
        return (f"+1 {self.rng.choice(_AREA_CODES)} {self.rng.randrange(200, 999)} "
                f"{self.rng.randrange(10_000):04d}")

    def email(self, first: str, last: str) -> str:
        style = self.rng.random()
        local = (f"{first}.{last}" if style < 0.4 else f"{first[0]}{last}" if style < 0.7
                 else f"{first}{self.rng.randrange(100)}")
        return f"{local.lower()}{self.rng.randrange(1000)}@{self.rng.choice(_DOMAINS)}"

    def person(self, household: dict[str, Any] | None) -> dict[str, Any]:
        first = self.rng.choices(self.first, cum_weights=self.first_w)[0]
        if household is not None:
            last = household["last_name"]
            line, city, zip_code = household["address"]
            phone = household["phone"] if self.rng.random() < 0.6 else self.phone()
        else:
            last = self.rng.choices(self.last, cum_weights=self.last_w)[0]
            line, city, zip_code = self.address()
            phone = self.phone()
        return {
            "first_name": first, "last_name": last, "email": self.email(first, last),
            "phone": phone,
            "date_of_birth": date(1940, 1, 1) + timedelta(days=self.rng.randrange(23_000)),
            "address_line": line, "city": city, "postcode": zip_code, "country": "US",
        }


# The fields a duplicate may differ in (kithkin.simulate.duplicates.perturb).
_PERTURBED = ("first_name", "last_name", "email", "phone", "address_line", "postcode",
              "date_of_birth")


def _duplicates(rng: np.random.Generator, originals: list[dict[str, Any]],
                *, hard: bool) -> list[dict[str, Any]]:
    """Degraded copies of ``originals`` (same order), all drawn at once."""
    if not originals:
        return []
    people = {name: pa.array([record[name] for record in originals])
              for name in _PERTURBED}
    degraded = {name: values.to_pylist()
                for name, values in duplicates.perturb(rng, people, hard=hard).items()}
    return [{**record, **{name: degraded[name][i] for name in _PERTURBED}}
            for i, record in enumerate(originals)]


def generate(
    *, persons: int, duplicates_rate: float = 0.1, hard: bool = False, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (customers, truth): customers as import rows, truth as duplicate clusters."""
    rng = random.Random(seed)
    people = _People(rng, persons)
    shop: list[dict[str, Any]] = []
    duplicated: list[int] = []
    household: dict[str, Any] | None = None
    for person_id in range(persons):
        if household is None or rng.random() > 0.15:  # 15 % live with the previous person
            household = None
        record = people.person(household)
        household = {"last_name": record["last_name"], "phone": record["phone"],
                     "address": (record["address_line"], record["city"], record["postcode"])}
        shop.append(record)
        if rng.random() < duplicates_rate:
            duplicated.append(person_id)
    copies = dict(zip(duplicated, _duplicates(np.random.default_rng(seed),
                                              [shop[i] for i in duplicated], hard=hard),
                      strict=True))
    records: list[dict[str, Any]] = []
    truth: list[tuple[int, str, str]] = []
    for person_id, record in enumerate(shop):
        records.append({"source": "shop", "external_id": f"s{person_id}", **record})
        if person_id in copies:
            records.append({"source": "crm", "external_id": f"c{person_id}",
                            **copies[person_id]})
            truth += [(person_id, "shop", f"s{person_id}"), (person_id, "crm", f"c{person_id}")]
    for record in rng.sample(records, k=len(records) // 100):  # broken input never crashes
        kind = rng.random()
        if kind < 0.4:
            record["email"] = "not-an-email"
        elif kind < 0.7:
            record["phone"] = "12"
        else:
            record["first_name"] = record["last_name"] = "  "
    return (pd.DataFrame.from_records(records),
            pd.DataFrame.from_records(truth, columns=["cluster_id", "source", "external_id"]))


def _birth(value: date | str | None) -> dict[str, date | str | None]:
    """A date, or the text kept as imported when it is no date (as ``kithkin import`` does)."""
    if value is None or isinstance(value, date):
        return {"date_of_birth": value, "date_of_birth_raw": None}
    try:
        return {"date_of_birth": date.fromisoformat(value), "date_of_birth_raw": None}
    except ValueError:
        return {"date_of_birth": None, "date_of_birth_raw": value}


def load_customers(engine: Engine, customers: pd.DataFrame, *, batch: int = 20_000) -> None:
    """Insert import-shaped customer rows and their identifiers (bulk, for tests/benchmarks).

    Emails and phones are normalised the way ingestion does; phones are already E.164 with
    spaces, so the key is the digits, and unparseable ones stay NULL.
    """
    now = datetime(2025, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        next_id = (conn.execute(select(func.max(Customer.id))).scalar() or 0) + 1
        rows = customers.astype(object).where(customers.notna(), None).to_dict("records")
        for start in range(0, len(rows), batch):
            chunk = rows[start:start + batch]
            people, identifiers = [], []
            for offset, row in enumerate(chunk):
                customer_id = next_id + start + offset
                phone = row.get("phone")
                digits = "".join(c for c in phone if c.isdigit()) if phone else ""
                people.append({
                    "id": customer_id, "first_name": row.get("first_name"),
                    "last_name": row.get("last_name"), "email": row.get("email"),
                    "email_normalized": normalize_email(row.get("email")),
                    "phone": phone, "phone_e164": f"+{digits}" if len(digits) == 11 else None,
                    **_birth(row.get("date_of_birth")),
                    "address_line": row.get("address_line"),
                    "address_line2": row.get("address_line2"), "city": row.get("city"),
                    "region": row.get("region"),
                    "postcode": row.get("postcode"), "country": row.get("country"),
                    "created_at": now, "updated_at": now,
                })
                identifiers.append({"customer_id": customer_id, "source": row["source"],
                                    "external_id": row["external_id"], "created_at": now})
            conn.execute(insert(Customer), people)
            conn.execute(insert(CustomerIdentifier), identifiers)
