"""Second records of the same person in another source, degraded the way real data is.

Typos, swapped first and last names, changed email case, missing fields and moved
addresses; ``hard`` raises every rate and adds alias domains and national phone formats,
so deterministic matching alone no longer finds most pairs.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kithkin.simulate import vocab
from kithkin.simulate.arrow_ops import null_where
from kithkin.simulate.people import draw_addresses
from kithkin.simulate.typos import add_typos

SOURCE = "crm"
# rate: (normal, hard)
RATES = {
    "typo_first": (0.15, 0.5), "typo_last": (0.2, 0.6), "second_typo": (0.0, 0.3),
    "swap_names": (0.05, 0.15), "email_case": (0.2, 0.3), "email_missing": (0.1, 0.4),
    "email_alias": (0.0, 0.3), "email_typo": (0.0, 0.15), "phone_missing": (0.2, 0.5),
    "phone_compact": (0.3, 0.3), "phone_national": (0.0, 0.4), "moved": (0.1, 0.25),
    "address_missing": (0.1, 0.3), "birth_missing": (0.3, 0.6),
}


def perturb(rng: np.random.Generator, people: dict[str, pa.Array], *, hard: bool
            ) -> dict[str, pa.Array]:
    """A degraded copy of ``people`` (same row order)."""
    n = len(people["first_name"])

    def chance(name: str) -> np.ndarray:
        return rng.random(n) < RATES[name][int(hard)]

    out = dict(people)
    swap = pa.array(chance("swap_names"))
    first = pc.if_else(swap, people["last_name"], people["first_name"])
    last = pc.if_else(swap, people["first_name"], people["last_name"])
    first = add_typos(rng, first, chance("typo_first"))
    last = add_typos(rng, last, chance("typo_last"))
    out["first_name"] = add_typos(rng, first, chance("second_typo"))
    out["last_name"] = add_typos(rng, last, chance("second_typo"))

    email = people["email"]
    for alias_from, alias_to in vocab.EMAIL_DOMAIN_ALIASES.items():
        aliased = pc.replace_substring(email, "@" + alias_from, "@" + alias_to)
        email = pc.if_else(pa.array(chance("email_alias")), aliased, email)
    # Typos only in the mailbox name, so the address stays an address.
    parts = pc.split_pattern(email, "@", max_splits=1)
    mailbox = add_typos(rng, pc.list_element(parts, 0), chance("email_typo"))
    email = pc.binary_join_element_wise(mailbox, pc.list_element(parts, 1), "@")
    case = rng.integers(0, 2, n)
    email = pc.if_else(pa.array(chance("email_case") & (case == 0)), pc.utf8_upper(email),
                       pc.if_else(pa.array(chance("email_case") & (case == 1)),
                                  pc.utf8_capitalize(email), email))
    out["email"] = null_where(email, chance("email_missing"))

    phone = people["phone"]
    phone = pc.if_else(pa.array(chance("phone_compact")),
                       pc.replace_substring(phone, " ", ""), phone)
    # Written the national way yet still parseable: "+44 (0)7..." or a bare US number.
    national = pc.replace_substring_regex(phone, r"^\+1 ?", "")
    national = pc.replace_substring_regex(national, r"^\+(44|353|49|33|31) ?(\d)", r"+\1 (0)\2")
    phone = pc.if_else(pa.array(chance("phone_national")), national, phone)
    out["phone"] = null_where(phone, chance("phone_missing"))

    moved = pa.array(chance("moved"))
    out["address_line"] = null_where(pc.if_else(moved, draw_addresses(rng, n),
                                                people["address_line"]),
                                     chance("address_missing"))
    out["postcode"] = null_where(people["postcode"], chance("address_missing"))
    out["date_of_birth"] = null_where(people["date_of_birth"], chance("birth_missing"))
    return out
