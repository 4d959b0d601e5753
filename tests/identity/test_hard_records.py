"""Crafted hard pairs: which pairs blocking compares, which level each comparison gives
them, and how term frequencies and the household rule weigh them.

Each case is an error the hard simulator and FEBRL make (a given name missing or
replaced, names swapped, digits transposed in a date or a postcode, an impossible date,
a postcode or address left out) in its smallest form.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from kithkin.identity import features, resolution, splink_adapter
from kithkin.identity.splink_adapter import Level
from tests.identity.test_register_errors import _compared, _frame, _row


@pytest.mark.parametrize(("left", "right"), [
    # Given name missing, surname mistyped at its second letter (both Soundex codes of
    # the surname differ from the front; the reversed one survives).
    (dict(first_name="Jessica", last_name="Altelmeier", city="Cologne"),
     dict(last_name="Actelmeier", city="Cologne")),
    # Both names mistyped so that neither Soundex agrees; the first three letters do.
    (dict(first_name="Fatima", last_name="Midingwell", city="Austin"),
     dict(first_name="Fatia", last_name="Midinwell", city="Austin")),
    # Two digits of the postcode transposed, both names mistyped, one town.
    (dict(first_name="Benette", last_name="Wolfenman", postcode="73484", city="Denver"),
     dict(first_name="Bejette", last_name="Woefenman", postcode="73844", city="Denver")),
    # The same full name; the postcode mistyped and the town written otherwise.
    (dict(first_name="John", last_name="Bansemer", postcode="2649", city="Lakeclifton"),
     dict(first_name="John", last_name="Bansemer", postcode="2640", city="Lake Clifton")),
    # Another town of the same state (a suburb), given name mistyped.
    (dict(first_name="Matild", last_name="Madigan", city="Tumbarumba", region="TAS"),
     dict(first_name="Matilda", last_name="Madigan", city="Westfield", region="TAS")),
])
def test_blocking_compares_hard_pairs(left: dict[str, Any], right: dict[str, Any]) -> None:
    assert _compared(_frame(_row(id=1, **left), _row(id=2, **right)))


@pytest.mark.parametrize(("left", "right"), [
    # Names swapped and the (now) given name left out: the given name sits in the
    # surname field of the other record.
    (dict(first_name="Amanda", last_name="Wilson", postcode="73484", city="Leeds"),
     dict(last_name="Amanda", city="Leeds")),
    # Given name replaced, surname mistyped; neither record can be met on a postcode
    # or a birth date (one side has neither).
    (dict(first_name="Michelle", last_name="Veldmann", postcode="73484", city="Lyon",
          date_of_birth="1961-02-03"),
     dict(first_name="Lissa", last_name="Veldman", city="Lyon")),
    # The same, names swapped on one side.
    (dict(first_name="Anthony", last_name="Larsbach", postcode="73484", city="Lille"),
     dict(first_name="Sagia", last_name="Anthony", city="Lille")),
])
def test_blocking_compares_pairs_without_postcode_or_birth_date(
        left: dict[str, Any], right: dict[str, Any]) -> None:
    assert _compared(_frame(_row(id=1, **left), _row(id=2, **right)))


def test_surname_only_rules_stay_with_pairs_that_no_key_can_meet() -> None:
    # Other given names, one surname sound and town, but both postcodes known (and
    # different): the postcode rules decide, the surname alone does not pair them.
    frame = _frame(
        _row(id=1, first_name="Michelle", last_name="Veldmann", postcode="73484",
             city="Lyon"),
        _row(id=2, first_name="Lissa", last_name="Veldman", postcode="80210", city="Lyon"))
    assert not _compared(frame)
    # Nor do sound-alike names of one town with the same initials: with both postcodes
    # known and different, the town-wide rules stand aside (they grow with its square).
    frame = _frame(
        _row(id=1, first_name="Michelle", last_name="Veldmann", postcode="73484",
             city="Lyon"),
        _row(id=2, first_name="Michelle", last_name="Velmann", postcode="80210", city="Lyon"))
    assert not _compared(frame)
    frame = _frame(
        _row(id=1, first_name="Michelle", last_name="Veldmann", postcode="73484",
             city="Lyon"),
        _row(id=2, first_name="Michelle", last_name="Velmann", city="Lyon"))
    assert _compared(frame)


def test_blocking_still_keeps_other_people_of_one_town_apart() -> None:
    # Same surname prefix and town but other initials: not compared.
    frame = _frame(_row(id=1, first_name="Ann", last_name="Midingwell", city="Austin"),
                   _row(id=2, first_name="Tom", last_name="Midford", city="Austin"))
    assert not _compared(frame)
    # Postcodes that are anagrams but not one swap apart, in one town: not compared.
    frame = _frame(_row(id=1, first_name="Ann", last_name="Okafor", postcode="12345",
                        city="Austin"),
                   _row(id=2, first_name="Tom", last_name="Brandt", postcode="54321",
                        city="Austin"))
    assert not _compared(frame)


@pytest.mark.parametrize("code", ["73484", "2649", "D11S338", "DP127PS", "9562SH"])
def test_one_of_the_postcode_keys_survives_any_neighbour_swap(code: str) -> None:
    keys = features._postcode_keys(code)
    for k in range(len(code) - 1):
        swapped = code[:k] + code[k + 1] + code[k] + code[k + 2:]
        if swapped == code:
            continue
        other = features._postcode_keys(swapped)
        assert keys[0] == other[0] or keys[1] == other[1] or (len(code) == 4 and k == 1), k


def _level(comparison: Any, left: dict[str, Any], right: dict[str, Any]) -> str:
    """The label of the first level whose SQL condition the two records meet."""
    levels = comparison.get_comparison("duckdb").comparison_levels
    row = {f"{k}_l": v for k, v in left.items()} | {f"{k}_r": v for k, v in right.items()}
    con = duckdb.connect()
    con.register("p", pd.DataFrame([row]).astype(object))
    for level in levels:
        condition = "TRUE" if level.sql_condition == "ELSE" else level.sql_condition
        if con.execute(f"SELECT count(*) FROM p WHERE {condition}").fetchone() == (1,):
            return str(level.label_for_charts)
    raise AssertionError("no level")


_NAMES = ("first_name", "last_name", "full_name", "first_canonical")


def _names(first: str | None, last: str | None) -> dict[str, Any]:
    return {"first_name": first, "last_name": last,
            "full_name": f"{first} {last}" if first and last else None,
            "first_canonical": features.canonical_given_name(first)}


@pytest.mark.parametrize(("left", "right", "label"), [
    (_names("sarah", "jensen"), _names("jensen", "sarah"), "Match on reversed cols"),
    (_names("brandon", "white"), _names("whtie", "brandon"), "Swapped, each within 1 edit"),
    (_names("zanard", "harris"), _names("hakriis", "zanaod"), "Swapped, each within 2 edits"),
    (_names("alexandra", "whitaker"), _names("whitakerson", "aleksandar"),
     "Swapped, Jaro-Winkler >= 0.88"),
    (_names("travis", "mccarthy"), _names(None, "mccarthy"),
     "A given name missing, last name within 1 edit"),
    (_names("travis", "mccarthy"), _names(None, "mcarthey"),
     "A given name missing, similar last name"),
    # One typo in each name, then two: edits, not Jaro-Winkler, grade them.
    (_names("patricia", "wilson"), _names("ptricia", "wison"), "Both names within 1 edit"),
    (_names("danena", "marworth"), _names("daenna", "marwroht"), "Both names within 2 edit"),
    # Surnames sharing a long stem are close by Jaro-Winkler, far by edits: namesakes
    # of a town, not typos.
    (_names("mary", "rosenington"), _names("mary", "rosenthal"), "Both names Jaro-Winkler"),
    (_names("bill", "smith"), _names("william", "smyth"), "Nickname, similar last name"),
    (_names("alice", "riding"), _names("riding", "aspinall"), "One name in the other field"),
])
def test_name_levels_for_register_errors(left: dict[str, Any], right: dict[str, Any],
                                         label: str) -> None:
    assert _level(resolution.name_comparison("duckdb"), left, right).startswith(label)


@pytest.mark.parametrize(("left", "right", "label"), [
    ("1975-07-26", "1975-07-62", "One edit apart"),  # transposed digits
    ("1975-07-26", "1975-15-26", "Same year, and same month or same day"),  # month 15
    ("1954-09-03", "1954-09-36", "Same year, and same month or same day"),  # day 36
    ("1954-09-03", "1990-02-17", "All other comparisons"),
    # Month 00, day 91: too damaged to compare, not a date decades away.
    ("1966-09-01", "1966-00-91", "An impossible date, more than one edit apart"),
])
def test_birth_date_levels_for_typos_and_impossible_dates(left: str, right: str,
                                                           label: str) -> None:
    assert _level(resolution.dob_comparison(), {"dob": left}, {"dob": right}).startswith(label)


_PLACE = ("address", "address2", "postcode", "city", "region")


def _place(address: str | None, postcode: str | None, city: str | None) -> dict[str, Any]:
    return {"address": address, "address2": None, "postcode": postcode, "city": city,
            "region": None}


@pytest.mark.parametrize(("left", "right", "label"), [
    (_place("12 oak st", "73484", "denver"), _place("12 oak st", None, "denver"),
     "Same address, similar city, postcode not equal"),
    (_place("12 oak st", "73484", "denver"), _place(None, None, "denver"),
     "Same city, no address on one side"),
    (_place("12 oak st", "73484", "denver"), _place("9 elm rd", "80210", "denver"),
     "Same city"),
    # Another address and no postcode on one side: not a postcode that disagrees.
    (_place("12 oak st", "73484", "denver"), _place("9 elm rd", None, "denver"),
     "Same city, other address, no postcode on one side"),
    (_place("12 oak st", "73484", "denver"), _place("12 oak st", "73844", "denver"),
     "Similar address, postcode one edit apart"),
    # Town, postcode and state all mistyped (FEBRL): still a similar address.
    (_place("1 hopegood place", "2550", "bonython"), _place("1 hopegoodplace", "3175",
                                                            "mill park"),
     "Similar address, other town and postcode"),
    ({**_place("86 bussau close", "4005", "klemzog"), "address2": "nort h arm"},
     {**_place("86 north arm", "4050", "klemsig"), "address2": "bussau close"},
     "Address lines swapped"),
    (_place("1 hopegood place", "2550", "bonython"), _place("7 mill road", "3175", "kew"),
     "All other comparisons"),
])
def test_location_levels_do_not_read_a_missing_field_as_a_disagreement(
        left: dict[str, Any], right: dict[str, Any], label: str) -> None:
    assert _level(resolution.location_comparison(), left, right) == label


def test_term_frequencies_count_other_people_not_records() -> None:
    frame = pd.DataFrame({
        "unique_id": range(8),
        "first_name": ["ann", "ann", "bo", "cy", "di", "ed", "fi", "fi"],
        # "okafor": one person recorded twice; "lee": two people; "ng": three people.
        "last_name": ["okafor", "okafor", "lee", "lee", "ng", "ng", "ng", "ng"],
        "postcode": ["1", "1", "2", "3", "4", "5", "6", None],
    })
    tf = resolution.term_frequencies(frame, "last_name").set_index("last_name")
    # One person (twice): no other holder, so half a holder's share, as that is below the
    # chance of two random records sharing a surname here (16 of 56 ordered pairs).
    assert tf.loc["okafor", "tf_last_name"] == pytest.approx(0.5 / 8)
    assert tf.loc["lee", "tf_last_name"] == pytest.approx(1 / 8)
    # "fi ng" has no postcode: no evidence of a third holder.
    assert tf.loc["ng", "tf_last_name"] == pytest.approx(2 / 8)


def _people(*rows: tuple[int, str, str, str]) -> pd.DataFrame:
    return pd.DataFrame([{"unique_id": i, "first_name": first, "last_name": "okafor",
                          "dob": dob, "address": "1 oak st", "postcode": "73484"}
                         for i, (first, dob) in enumerate((r[1], r[2]) for r in rows)])


def test_household_odds_count_one_person_against_two() -> None:
    frame = _people(
        (0, "ann", "1970-01-01", ""), (1, "tom", "1972-05-05", ""),  # household: apart
        (2, "bea", "1980-03-03", ""), (3, "kim", "1980-03-03", ""),  # name replaced
        (4, "ann", "1970-01-01", ""),  # ann again: one full name, one date
    )
    odds = resolution.household_odds(frame)
    assert (odds.other_same, odds.named_same, odds.named_apart) == (1, 1, 0)
    assert odds.other_apart == 8  # every pair of other initials with dates years apart
    assert odds.other() == pytest.approx(1.5 / 8.5)
    # One full name: 10 pairs with one date; dates apart in 1 of 10 true pairs means
    # one replaced date expected, so 3 pairs years apart leave 2 namesakes.
    assert resolution.HouseholdOdds(0, 20, 10, 3).named(0.1) == pytest.approx(1.5 / 2.5)


def test_namesakes_are_bounded_by_the_registers_households() -> None:
    # 10 pairs of one full name with one date, 3 with dates years apart; of pairs of
    # other given names, 40 with one date (replaced names) and 9 years apart, of which
    # 40 * 0.1 = 4 are expected to be replaced names and dates (give or take 2 * 2): one
    # household pair beyond that, so at most one namesake pair (not the 2 the full-name
    # pairs alone suggest).
    odds = resolution.HouseholdOdds(other_same=40, other_apart=9, named_same=10,
                                    named_apart=3)
    assert odds.named(0.1) == pytest.approx(1.5 / 1.5)
    # No households at all: no namesakes, the replaced dates' odds alone.
    assert resolution.HouseholdOdds(40, 0, 10, 3).named(0.1) == pytest.approx(1.5 / 0.5)


def _model_labels() -> dict[str, list[str]]:
    """Each comparison's level labels, in the model's order, from the real settings."""
    return {(made := comparison.get_comparison("duckdb")).output_column_name:
            [level.label_for_charts for level in made.comparison_levels]
            for comparison in resolution.splink_settings("duckdb").comparisons}


def _fake_comparisons() -> dict[str, list[Level]]:
    """The model's levels, each weighing its position (null 0)."""
    return {name: [Level(label=label, is_null=i == 0, match_weight=float(i) * 0.01,
                         u_probability=None, u_trained=True) for i, label in enumerate(labels)]
            for name, labels in _model_labels().items()}


def _pair(name_level: str, dob_level: str, location_weight: float) -> dict[str, Any]:
    labels = _model_labels()
    weights = {"first_name_last_name": labels["first_name_last_name"].index(name_level) * 0.01,
               "dob": labels["dob"].index(dob_level) * 0.01,
               "email": 0.0, "phone": 0.0, "location": location_weight}
    total = -2.0 + location_weight  # -2 bits without the shared address
    return {"unique_id_l": 1, "unique_id_r": 2, "match_weight": total,
            "match_probability": 1 / (1 + 2 ** -total),
            **{f"mw_{k}": v for k, v in weights.items()}}


def test_the_household_rule_reads_levels_the_model_has() -> None:
    labels = _model_labels()
    for name, agreeing in resolution._PERSON_AGREES.items():
        assert agreeing <= set(labels[name])
    assert set(labels["dob"]) >= resolution._DOB_CONTRADICTS


def test_household_rule_caps_pairs_without_personal_agreement(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(splink_adapter, "comparisons", lambda linker: _fake_comparisons())
    no_dob, apart = "dob is NULL", "All other comparisons"
    pairs = pd.DataFrame([
        _pair("Both names within 1 edit(s)", no_dob, 12.0),  # names agree: kept
        _pair("Exact match on last_name", no_dob, 12.0),  # surname only: capped
        _pair("Exact match on last_name", apart, 12.0),  # dates apart: removed
        _pair("Exact match on full_name", apart, 12.0),  # namesake: its cap
    ])
    out = resolution._with_weights(None, pairs, household_cap=math.log2(3.0),  # type: ignore[arg-type]
                                   namesake_cap=math.log2(0.5))
    probability = out["match_probability"].to_numpy()
    assert probability[0] == pytest.approx(pairs["match_probability"][0])
    assert probability[1] == pytest.approx(0.75)
    assert np.isclose(out["match_weight"][2], -2.0)
    assert probability[3] == pytest.approx(1 / 3)
    # Where the register holds no households, other names with dates years apart are a
    # duplicate with both replaced, held to those odds rather than stripped.
    out = resolution._with_weights(None, pairs, household_cap=math.log2(3.0),  # type: ignore[arg-type]
                                   namesake_cap=math.log2(0.5), apart_cap=math.log2(4.0))
    assert out["match_probability"][2] == pytest.approx(0.8)


def test_other_names_and_dates_apart_are_one_person_only_without_households() -> None:
    # 40 pairs of other given names with one date; the model puts dates years apart in
    # 1 of 10 true pairs, so 4 such pairs years apart are expected from duplicates.
    assert resolution.HouseholdOdds(40, 4, 0, 0).apart(0.1) == pytest.approx(4.5 / 0.5)
    # 40 pairs years apart: 32 household pairs beyond the 4 (+ 2 sd) duplicates; such a
    # pair is most likely two people.
    assert resolution.HouseholdOdds(40, 40, 0, 0).apart(0.1) == pytest.approx(4.5 / 32.5)


def test_an_excess_chance_explains_is_no_household() -> None:
    # FEBRL 4 (no households): 108 pairs of other given names with one date, 9 years
    # apart where the model expects 5.4: within chance, so no households and the pair
    # of one surname and address is most likely one person (not held to odds 1.4).
    odds = resolution.HouseholdOdds(other_same=108, other_apart=9, named_same=0,
                                    named_apart=0)
    assert odds.apart(0.05) == pytest.approx(5.9 / 0.5)
    # Far beyond chance (30 against 5.4 +- 4.6): households, and the odds fall.
    beyond = resolution.HouseholdOdds(108, 30, 0, 0)
    assert beyond.apart(0.05) == pytest.approx(5.9 / (30 - 5.4 - 2 * 5.4 ** 0.5 + 0.5))


@pytest.mark.parametrize(("raw", "text"), [
    ("1985-19-09", "1985-19-09"),  # month 19 written year first: not the 19th of month 85
    ("19851909", "1985-19-09"),
    ("09/19/1985", "1985-19-09"),  # day-first reading of an impossible US date
    ("30121985", "1985-12-30"),
])
def test_impossible_dates_keep_the_order_they_were_written_in(raw: str, text: str) -> None:
    assert features._dob_text(None, raw) == text


def test_a_unique_value_never_weighs_less_than_the_levels_average() -> None:
    # Every surname unique: no two records share one, so half a holder's share would be
    # more than the level's u (zero here): such values are left to the level's own u.
    frame = pd.DataFrame({"unique_id": range(4), "first_name": ["a", "b", "c", "d"],
                          "last_name": ["w", "x", "y", "z"], "postcode": ["1", "2", "3", "4"]})
    assert resolution.term_frequencies(frame, "last_name").empty
    # Two of 40 records share a surname (2 of 1,560 ordered pairs agree): a unique surname
    # gets that rate, not half a holder's share of 40 records, which is more.
    names = ["ann"] * 2 + [f"n{i}" for i in range(38)]
    frame = pd.DataFrame({"unique_id": range(40), "first_name": "jo", "last_name": names,
                          "postcode": [str(i) for i in range(40)]})
    tf = resolution.term_frequencies(frame, "last_name").set_index("last_name")
    assert tf.loc["n0", "tf_last_name"] == pytest.approx(2 / (40 * 39))
    assert tf.loc["ann", "tf_last_name"] == pytest.approx(1 / 40)


def test_term_frequencies_of_an_empty_column_keep_their_columns() -> None:
    frame = pd.DataFrame({"unique_id": [1, 2], "first_name": ["a", "b"],
                          "last_name": ["x", "y"], "postcode": [None, None],
                          "email": [None, None]})
    tf = resolution.term_frequencies(frame, "email")
    assert tf.empty and list(tf.columns) == ["email", "tf_email"]


def test_one_surname_at_one_home_takes_the_registers_odds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A surname (or a typo of it) at one address and postcode, birth dates unknown: what
    # household_odds measures, so its odds hold both ways; other places keep the fields'.
    monkeypatch.setattr(splink_adapter, "comparisons", lambda linker: _fake_comparisons())
    home = _model_labels()["location"].index("Same address and postcode") * 0.01
    pairs = pd.DataFrame([
        _pair("Similar last name", "dob is NULL", home),  # -2 bits + home: raised
        _pair("Exact match on last_name", "dob is NULL", home),
        _pair("Exact match on last_name", "All other comparisons", home),  # dates apart
    ])
    out = resolution._with_weights(None, pairs, household_cap=math.log2(20.0))  # type: ignore[arg-type]
    assert out["match_probability"][0] == pytest.approx(20 / 21)
    assert out["match_probability"][1] == pytest.approx(20 / 21)
    assert out["match_probability"][2] < 0.5
    assert set(_model_labels()["location"]) >= resolution._SAME_HOME
    assert set(_model_labels()["first_name_last_name"]) >= resolution._SURNAME_ONLY
