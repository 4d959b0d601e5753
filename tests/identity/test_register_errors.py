"""Records as registers hold them: names missing, swapped or mistyped, impossible dates.

Each case is a true pair that the old blocking never compared (initials differed) or the
old model could not see (an impossible date of birth was dropped); the tests check the
pieces that now find it: blocking, date text, nicknames, the refitted prior, and the
quiet report.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from kithkin.config import get_settings
from kithkin.identity import features, resolution
from kithkin.identity.nicknames import canonical_given_name


def _row(**fields: Any) -> SimpleNamespace:
    base: dict[str, Any] = dict(
        id=1, first_name=None, last_name=None, email=None, email_normalized=None, phone=None,
        phone_e164=None, country=None, date_of_birth=None, date_of_birth_raw=None,
        address_line=None, address_line2=None, postcode=None, city=None, region=None)
    return SimpleNamespace(**{**base, **fields})


def _frame(*rows: SimpleNamespace) -> pd.DataFrame:
    report = features.FieldReport()
    records = [features.row_features(r, report, get_settings()) for r in rows]
    return pd.DataFrame.from_records(records, columns=list(features.MATCH_COLUMNS))


def _compared(frame: pd.DataFrame) -> bool:
    """Whether the prediction blocking puts records 1 and 2 in one pair."""
    con = duckdb.connect()
    con.register("f", frame)
    condition = " OR ".join(f"({c})" for c in resolution.blocking_conditions())
    found = con.execute(
        f"SELECT count(*) FROM f l JOIN f r ON ({condition}) AND l.unique_id < r.unique_id"
    ).fetchone()
    return bool(found and found[0])


@pytest.mark.parametrize(("left", "right"), [
    # Given name missing on one side: the initials differ.
    (dict(first_name="Sarah", last_name="Lichenhorn", date_of_birth="1961-02-03",
          postcode="63185"),
     dict(last_name="Lichenhurn", date_of_birth="1961-02-03", postcode="63185")),
    # Given name replaced; surname mistyped; the postcode and the surname's sound remain.
    (dict(first_name="Garias", last_name="Goodenridge", postcode="63185"),
     dict(first_name="Petelle", last_name="Goodenrigde", postcode="63185")),
    # Surname mistyped (its Soundex changes), same given name, same city, no postcode.
    (dict(first_name="Lisa", last_name="Fernandez", city="Marseille"),
     dict(first_name="Lisa", last_name="Ferankdez", city="Marseille")),
    # Swapped names, one mistyped.
    (dict(first_name="Tessko", last_name="Haywood", city="York"),
     dict(first_name="Haywod", last_name="Tessko", city="York")),
    # Both names mistyped, nothing else but the postcode.
    (dict(first_name="Lisa", last_name="Fernandez", postcode="81575"),
     dict(first_name="Lia", last_name="Ferankdez", postcode="81575")),
    # Swapped names, town mistyped, postcode digits transposed: the address remains.
    (dict(first_name="Amber", last_name="Kexel", address_line="49 Daintree Crescent",
          city="New Farm", postcode="4061"),
     dict(first_name="Kexel", last_name="Amber", address_line="49 Daintree Crescent",
          city="New Fam", postcode="4071")),
])
def test_blocking_compares_pairs_whose_initials_differ(left: dict[str, Any],
                                                        right: dict[str, Any]) -> None:
    frame = _frame(_row(id=1, **left), _row(id=2, **right))
    assert _compared(frame)


def test_unrelated_people_in_one_city_are_not_compared() -> None:
    frame = _frame(_row(id=1, first_name="Ann", last_name="Okafor", city="Leeds"),
                   _row(id=2, first_name="Tom", last_name="Brandt", city="Leeds"))
    assert not _compared(frame)
    # Sound-alike surnames alone do not pair two people of one city who both have a
    # postcode and a birth date: the given names' first letters must agree too, or a
    # city's pairs grow with the square of its size.
    known = dict(postcode="LS1 4AP", date_of_birth="1970-01-01")
    frame = _frame(_row(id=1, first_name="Ann", last_name="Smith", city="Leeds", **known),
                   _row(id=2, first_name="Tom", last_name="Smyth", city="Leeds",
                        postcode="LS6 2QT", date_of_birth="1985-06-30"))
    assert not _compared(frame)
    # Where one side has neither, no rule keyed on them can meet it (a given name
    # replaced, no postcode or date): then the surname's sound in the town suffices.
    frame = _frame(_row(id=1, first_name="Ann", last_name="Smith", city="Leeds", **known),
                   _row(id=2, first_name="Tom", last_name="Smyth", city="Leeds"))
    assert _compared(frame)
    # Without a birth date but with a postcode two edits off: not the few records missing
    # both keys, and every such pair of a town would be compared.
    frame = _frame(_row(id=1, first_name="Ann", last_name="Smith", city="Leeds", **known),
                   _row(id=2, first_name="Tom", last_name="Smyth", city="Leeds",
                        postcode="LS1 7PA"))
    assert not _compared(frame)


def test_one_postcode_pairs_only_people_sharing_an_initial() -> None:
    # A ZIP or PLZ holds thousands of people: two of them with no initial in common and
    # nothing else shared are not compared (pairing everyone in it grows with the square
    # of the file); a shared initial, straight or crossed, or a missing name suffices.
    def pair(right: dict[str, Any]) -> bool:
        return _compared(_frame(
            _row(id=1, first_name="Ann", last_name="Okafor", postcode="10115"),
            _row(id=2, postcode="10115", **right)))

    assert not pair(dict(first_name="Tom", last_name="Brandt"))
    assert pair(dict(first_name="Tom", last_name="Olafsen"))  # surname initial
    assert pair(dict(first_name="Olga", last_name="Brandt"))  # crossed (names swapped)
    assert pair(dict(last_name="Brandt"))  # given name missing


@pytest.mark.parametrize(("parsed", "raw", "text"), [
    ("1990-03-15", None, "1990-03-15"),
    (None, "1990-13-45", "1990-13-45"),
    (None, "19901345", "1990-13-45"),
    (None, "15/13/1990", "1990-13-15"),  # day-first digits
    (None, "not a date", None),
    (None, None, None),
])
def test_impossible_dates_of_birth_still_compare_as_text(parsed: str | None, raw: str | None,
                                                          text: str | None) -> None:
    assert features._dob_text(parsed, raw) == text


def test_match_table_keeps_region_second_line_and_raw_dates() -> None:
    frame = _frame(_row(first_name="Bill", last_name="Smith", date_of_birth_raw="1985-07-34",
                        address_line2="Flat 3", region="Noord-Holland"))
    row = frame.iloc[0]
    assert (row["dob"], row["address2"], row["region"]) == ("1985-07-34", "flat 3",
                                                            "noord-holland")
    assert row["first_canonical"] == canonical_given_name("william") == "william"


def test_refitted_prior_recovers_the_share_of_matches() -> None:
    """1,000 true pairs among 100k records, scored with a prior 40x too low."""
    rng = np.random.default_rng(3)
    records, true_pairs = 100_000, 1_000
    truth = 1_000 / (records * (records - 1) / 2)
    wrong = truth / 40
    evidence = np.r_[rng.normal(32, 3, true_pairs), rng.normal(-2, 3, 20_000)]
    pairs = pd.DataFrame({"match_weight": evidence + np.log2(wrong / (1 - wrong))})
    fitted_pairs, fitted = resolution.calibrated_prior(pairs, records=records, prior=wrong)
    assert truth / 1.5 < fitted < truth * 1.5
    assert (fitted_pairs["match_probability"].iloc[:true_pairs] > 0.5).mean() > 0.95
    assert (fitted_pairs["match_probability"].iloc[true_pairs:] > 0.5).mean() < 0.01


def test_unobserved_levels_are_collected_not_printed(caplog: pytest.LogCaptureFixture) -> None:
    collector = resolution._UnobservedLevels()
    frame = pd.DataFrame({"email": [None] * 10, "phone": ["1"] * 10})
    emitter = logging.getLogger("splink.internals.expectation_maximisation")
    with caplog.at_level(logging.WARNING), resolution._quiet_splink(collector):
        for level in ("Exact match on email", "All other comparisons"):
            emitter.warning("WARNING:\nLevel %s on comparison email not observed in dataset, "
                            "unable to train m value\n", level)
        emitter.warning("WARNING:\nLevel Exact match on phone on comparison phone not "
                        "observed in dataset, unable to train m value\n")
    assert not [r for r in caplog.records if "not observed" in r.getMessage()]
    notes = collector.notes(frame)
    assert notes[0].startswith("email: too sparse to train (0.0% of records")
    assert notes[1].startswith("phone: 1 agreement level(s) never seen")
