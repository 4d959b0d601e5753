"""Second records of the same person in another source, degraded the way real data is.

Typos, swapped first and last names, changed email case, missing fields and moved
addresses; ``hard`` raises every rate and adds alias domains and national phone formats,
so deterministic matching alone no longer finds most pairs. It also makes the errors of
real registers (the FEBRL benchmark's kinds): a given name missing or replaced by another
(a nickname, a middle name), impossible dates of birth (month 13, day 34), two digits
transposed in the date of birth or the postcode, and records with neither email nor phone.
The rates are in ``RATES`` (docs/simulator.md lists them).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kithkin.simulate import vocab
from kithkin.simulate.arrow_ops import null_where
from kithkin.simulate.people import draw_addresses, side_stream
from kithkin.simulate.typos import add_typos

SOURCE = "crm"
# rate: (normal, hard)
RATES = {
    "typo_first": (0.15, 0.5), "typo_last": (0.2, 0.6), "second_typo": (0.0, 0.3),
    "swap_names": (0.05, 0.15), "email_case": (0.2, 0.3), "email_missing": (0.1, 0.4),
    "email_alias": (0.0, 0.3), "email_typo": (0.0, 0.15), "phone_missing": (0.2, 0.5),
    "phone_compact": (0.3, 0.3), "phone_national": (0.0, 0.4), "moved": (0.1, 0.25),
    "address_missing": (0.1, 0.3), "birth_missing": (0.3, 0.6),
    # Drawn from a side stream (people.side_stream), so normal mode is unchanged.
    "first_missing": (0.0, 0.08), "first_replaced": (0.0, 0.06),
    "birth_impossible": (0.0, 0.04), "birth_transposed": (0.0, 0.08),
    "postcode_transposed": (0.0, 0.08), "no_contact": (0.0, 0.2),
    "region_missing": (0.1, 0.3),
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
    return _register_errors(side_stream(rng), out, hard=hard)


def _register_errors(rng: np.random.Generator, out: dict[str, pa.Array], *, hard: bool
                     ) -> dict[str, pa.Array]:
    n = len(out["first_name"])

    def chance(name: str) -> np.ndarray:
        return rng.random(n) < RATES[name][int(hard)]

    replaced = chance("first_replaced")
    if replaced.any():
        others = out["first_name"].take(pa.array(rng.permutation(n)))
        nick = pc.utf8_capitalize(pa.array(
            [_NICKNAME.get((v or "").lower()) for v in out["first_name"].to_pylist()],
            pa.string()))
        out["first_name"] = pc.if_else(pa.array(replaced), pc.coalesce(nick, others),
                                       out["first_name"])
    out["first_name"] = null_where(out["first_name"], chance("first_missing"))
    dob = out["date_of_birth"]
    if not pa.types.is_string(dob.type):  # identity.synthetic keeps dates as dates
        dob = dob.cast(pa.string())
    dob = transpose_digits(rng, dob, chance("birth_transposed"))
    out["date_of_birth"] = _impossible_dates(rng, dob, chance("birth_impossible"))
    out["postcode"] = transpose_digits(rng, out["postcode"], chance("postcode_transposed"))
    no_contact = chance("no_contact")
    out["email"] = null_where(out["email"], no_contact)
    out["phone"] = null_where(out["phone"], no_contact)
    if "region" in out:
        out["region"] = null_where(out["region"], chance("region_missing"))
    return out


def transpose_digits(rng: np.random.Generator, values: pa.Array, selected: np.ndarray
                     ) -> pa.Array:
    """Swap two neighbouring digits (different ones) in each selected value."""
    if not selected.any():
        return values
    texts = values.to_pylist()
    for i in np.flatnonzero(selected):
        text = texts[i]
        if not text:
            continue
        spots = [k for k in range(len(text) - 1)
                 if text[k].isdigit() and text[k + 1].isdigit() and text[k] != text[k + 1]]
        if spots:
            k = spots[int(rng.integers(0, len(spots)))]
            texts[i] = text[:k] + text[k + 1] + text[k] + text[k + 2:]
    return pa.array(texts, pa.string())


def _impossible_dates(rng: np.random.Generator, values: pa.Array, selected: np.ndarray
                      ) -> pa.Array:
    """A month over 12 or a day over 31, as hand-keyed registers hold."""
    if not selected.any():
        return values
    texts = values.to_pylist()
    for i in np.flatnonzero(selected):
        text = texts[i]
        if text and len(text) == 10:
            if rng.random() < 0.5:
                texts[i] = f"{text[:5]}{int(rng.integers(13, 20))}{text[7:]}"
            else:
                texts[i] = f"{text[:8]}{int(rng.integers(32, 40))}"
    return pa.array(texts, pa.string())


# Given name -> a common other form, for "replaced" given names.
_NICKNAME = {
    "william": "bill", "robert": "bob", "richard": "rick", "james": "jim", "john": "jack",
    "joseph": "joe", "thomas": "tom", "charles": "charlie", "michael": "mike",
    "daniel": "dan", "edward": "ted", "elizabeth": "liz", "margaret": "maggie",
    "catherine": "kate", "jennifer": "jenny", "alexander": "alex", "andrew": "andy",
    "anthony": "tony", "benjamin": "ben", "christopher": "chris", "david": "dave",
    "matthew": "matt", "nicholas": "nick", "patrick": "pat", "peter": "pete",
    "samuel": "sam", "stephen": "steve", "timothy": "tim", "rebecca": "becky",
    "susan": "sue", "jessica": "jess", "joshua": "josh", "jonathan": "jon",
}
