"""Synthetic customers with known duplicates, for quality tests and the benchmark.

Writes the same shape as ``kithkin simulate`` (customers with sources ``shop`` and ``crm``;
truth as ``cluster_id, source, external_id``) but only the customer table, so a million
people take seconds. Persons get Zipf-distributed names (common names collide, as in real
files), households share an address, surname and landline (hard non-matches), and each
duplicate is a second record in ``crm`` with typos, swapped names, gaps, another mailbox
and moves. ``hard=True`` raises every noise rate.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, insert, select

from kithkin.customers.models import Customer, CustomerIdentifier
from kithkin.identity.normalize import normalize_email

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
_NICKNAMES = {"william": "bill", "robert": "bob", "elizabeth": "liz", "margaret": "maggie",
              "richard": "dick", "katherine": "kate", "thomas": "tom", "james": "jim"}


@dataclass(frozen=True)
class Noise:
    """Probabilities of each distortion of a duplicate record."""

    typo_first: float
    typo_last: float
    swap_names: float
    drop_email: float
    other_email: float
    drop_phone: float
    typo_phone: float
    drop_dob: float
    typo_dob: float
    moved: float
    drop_address: float

    @classmethod
    def of(cls, *, hard: bool) -> Noise:
        if hard:
            return cls(0.3, 0.3, 0.1, 0.4, 0.25, 0.5, 0.1, 0.3, 0.1, 0.3, 0.15)
        return cls(0.1, 0.1, 0.05, 0.2, 0.1, 0.3, 0.05, 0.1, 0.05, 0.15, 0.05)


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(
        rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables)
    ) + rng.choice(_CODAS)


def _vocabulary(rng: random.Random, size: int) -> tuple[list[str], list[float]]:
    words = sorted({_word(rng, rng.choice((1, 2, 2, 3))).capitalize() for _ in range(size)})
    rng.shuffle(words)
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(words))]  # Zipf-like
    return words, list(accumulate(weights))


def _typo(rng: random.Random, value: str) -> str:
    if len(value) < 3:
        return value + rng.choice("aeiou")
    i = rng.randrange(1, len(value) - 1)
    kind = rng.random()
    if kind < 0.3:
        return value[:i] + value[i + 1:]  # deletion
    if kind < 0.6:
        return value[:i] + value[i + 1] + value[i] + value[i + 2:]  # transposition
    if kind < 0.85:
        return value[:i] + rng.choice("abcdefghiklmnoprstuy") + value[i + 1:]  # substitution
    return value[:i] + value[i] + value[i:]  # doubled letter


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


def _duplicate(people: _People, record: dict[str, Any], noise: Noise) -> dict[str, Any]:
    rng, dup = people.rng, dict(record)
    if rng.random() < noise.typo_first:
        dup["first_name"] = _typo(rng, dup["first_name"])
    if rng.random() < noise.typo_last:
        dup["last_name"] = _typo(rng, dup["last_name"])
    if rng.random() < noise.swap_names:
        dup["first_name"], dup["last_name"] = dup["last_name"], dup["first_name"]
    if rng.random() < noise.drop_email:
        dup["email"] = None
    elif rng.random() < noise.other_email:
        dup["email"] = people.email(record["first_name"], record["last_name"])
    if rng.random() < noise.drop_phone:
        dup["phone"] = None
    elif rng.random() < noise.typo_phone:
        digits = list(dup["phone"])
        i = rng.randrange(len(digits) - 4, len(digits))
        digits[i] = str((int(digits[i]) + rng.randrange(1, 9)) % 10)
        dup["phone"] = "".join(digits)
    if rng.random() < noise.drop_dob:
        dup["date_of_birth"] = None
    elif rng.random() < noise.typo_dob:
        dob = dup["date_of_birth"]
        dup["date_of_birth"] = (dob.replace(month=dob.day, day=dob.month) if dob.day <= 12
                                else dob + timedelta(days=rng.choice((-1, 1))))
    if rng.random() < noise.moved:
        dup["address_line"], dup["city"], dup["postcode"] = people.address()
    elif rng.random() < noise.drop_address:
        dup["address_line"] = dup["postcode"] = None
    if rng.random() < 0.3:
        dup["first_name"], dup["last_name"] = dup["first_name"].upper(), dup["last_name"].upper()
    return dup


def generate(
    *, persons: int, duplicates_rate: float = 0.1, hard: bool = False, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (customers, truth): customers as import rows, truth as duplicate clusters."""
    rng = random.Random(seed)
    people, noise = _People(rng, persons), Noise.of(hard=hard)
    records: list[dict[str, Any]] = []
    truth: list[tuple[int, str, str]] = []
    household: dict[str, Any] | None = None
    for person_id in range(persons):
        if household is None or rng.random() > 0.15:  # 15 % live with the previous person
            household = None
        record = people.person(household)
        household = {"last_name": record["last_name"], "phone": record["phone"],
                     "address": (record["address_line"], record["city"], record["postcode"])}
        records.append({"source": "shop", "external_id": f"s{person_id}", **record})
        if rng.random() < duplicates_rate:
            records.append({"source": "crm", "external_id": f"c{person_id}",
                            **_duplicate(people, record, noise)})
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
