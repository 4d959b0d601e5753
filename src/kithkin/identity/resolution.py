"""Probabilistic record linkage with Splink (Fellegi & Sunter 1969).

Each candidate pair gets a match weight, the sum over compared fields of
``log2(m / u)`` where ``m`` is the probability of the observed agreement level among true
matches and ``u`` among non-matches, plus term-frequency adjustments that make agreement
on a rare surname, postcode or city count for more than on a common one. ``u`` is
estimated by random sampling of record pairs (almost all random pairs are non-matches);
``m`` by expectation maximisation over pairs from a few blocking rules (Winkler 1988;
Enamorado, Fifield & Imai 2019). The prior ``P(match)`` comes from deterministic rules.

Blocking keeps the work linear-ish in the number of records: only pairs sharing an
email, a phone, a postcode with the same initials, a date of birth with the same initials,
the same pair of surname/forename Soundex codes in one city, or one of the keys that
survive a register's errors (``PREDICTION_BLOCKING``, ``CONDITION_BLOCKING``) are ever
scored. Initials and Soundex pairs are order-free, so swapped first and last names still
meet. Term frequencies count other people rather than records (:func:`term_frequencies`),
and the household rule's odds are measured on the register (:func:`household_odds`).

The same code runs on DuckDB (default) and on Spark (``analytics_engine = "pyspark"``).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from scipy.optimize import brentq
from splink import Linker, SettingsCreator, block_on
from splink.blocking_rule_library import CustomRule

from kithkin.config import AnalyticsEngine, Settings
from kithkin.identity import splink_adapter
from kithkin.identity.splink_adapter import ComparisonLevelCreator, DatabaseAPI

logger = logging.getLogger(__name__)

PREDICTION_BLOCKING: tuple[tuple[str, ...], ...] = (
    ("email",),
    ("phone",),
    ("postcode", "initials"),
    ("dob", "initials"),
    ("name_sounds", "city"),
    # A name missing, replaced, swapped or mistyped breaks the initials: meet on the rest.
    ("dob", "postcode"),
    ("last_sound", "postcode"),
    ("first_sound", "postcode"),
    ("first_sound", "dob"),
    ("last_sound", "dob"),
    ("address", "postcode"),
    ("address", "initials"),  # a mistyped postcode and town, names swapped
    ("dob", "region"),
    ("first_canonical", "last_sound", "city"),
    ("address", "city"),
    ("first_name", "last_name", "region"),  # one name in two towns or postcodes
)


def _initials_match(left: str, right: str) -> str:
    return f"substr(l.{left}, 1, 1) = substr(r.{right}, 1, 1)"


def _initials_or_missing(name: str) -> str:
    """Same initial, or the name missing on one side (a register left it out)."""
    return (f"({_initials_match(name, name)} OR l.{name} IS NULL OR r.{name} IS NULL)")


_POSTCODE_UNKNOWN = ("(l.postcode IS NULL OR r.postcode IS NULL OR "
                     "damerau_levenshtein(l.postcode, r.postcode) <= 2)")
_POSTCODE_AND_DOB_MISSING = ("(l.postcode IS NULL OR r.postcode IS NULL) AND "
                             "(l.dob IS NULL OR r.dob IS NULL)")
# A sound-alike name in the same city, narrowed by the other name's first letter (typos
# keep it): a city alone holds too many people to pair every sound-alike in it (at 100k
# records these rules without the letter scored 3 million pairs, growing with the square
# of a city's size). The reversed surname's Soundex catches a typo early in the name;
# the crossed rules catch swapped names with a typo.
# Some initial of one record is an initial of the other (straight or crossed), or a name
# is missing: typos keep first letters, a swap crosses them, and a replaced given name
# leaves the surname's. It keeps most true pairs of a postcode and one in four namesakes.
_SOME_INITIAL = "(" + " OR ".join([
    *(_initials_match(a, b) for a, b in (("first_name", "first_name"),
                                         ("last_name", "last_name"),
                                         ("first_name", "last_name"),
                                         ("last_name", "first_name"))),
    *(f"{side}.{name} IS NULL" for side in "lr" for name in ("first_name", "last_name")),
]) + ")"
CONDITION_BLOCKING = (
    # A postcode of a few people (a British unit) pairs everyone in it, so typos in both
    # names still meet; a ZIP or PLZ holds thousands of people, some dozens of them
    # customers in a large file, and pairing all of them grows with the square of the
    # file: one shared initial first. Two transposed digits (73484, 73844): one of two
    # keys survives any single swap (features._postcode_keys); in one city, as a key
    # holds ~10 codes.
    *(f"{rule} AND {_SOME_INITIAL}" for rule in (
        "l.postcode = r.postcode",
        "l.postcode_head = r.postcode_head AND l.city = r.city",
        "l.postcode_tail = r.postcode_tail AND l.city = r.city",
    )),
    # Each only where a postcode is missing on one side or within two edits: pairs with
    # both postcodes meet on the postcode rules above, or live apart; a town's pairs grow
    # with the square of its size (at a million simulated records these rules made ~25
    # pairs per record). Two edits, for the mistyped postcodes of FEBRL.
    *(f"{rule} AND {_POSTCODE_UNKNOWN}" for rule in (
        # In the region rather than the town: a mistyped or other town still meets.
        "l.last_sound = r.last_sound AND l.region = r.region AND "
        + _initials_or_missing("first_name"),
        "l.first_sound = r.first_sound AND l.city = r.city AND "
        + _initials_match("last_name", "last_name"),
        "l.last_sound_rev = r.last_sound_rev AND l.city = r.city AND "
        + _initials_or_missing("first_name"),
        "l.last_sound = r.first_sound AND l.city = r.city AND "
        + _initials_match("first_name", "last_name"),
        "l.first_sound = r.last_sound AND l.city = r.city AND "
        + _initials_match("last_name", "first_name"),
        # A typo early in both names breaks both Soundex codes; the first three letters
        # of the surname survive one after them.
        "substr(l.last_name, 1, 3) = substr(r.last_name, 1, 3) AND l.city = r.city AND "
        + _initials_or_missing("first_name"),
    )),
    # The same full name with a mistyped town and postcode: the postcode's first
    # character (a region in most countries) keeps common names' blocks small.
    "l.first_name = r.first_name AND l.last_name = r.last_name AND "
    "substr(l.postcode, 1, 1) = substr(r.postcode, 1, 1)",
    # The given name in the surname field, the other field empty (swapped, one missing).
    "r.first_name IS NULL AND l.first_sound = r.last_sound AND l.city = r.city",
    "l.first_name IS NULL AND r.first_sound = l.last_sound AND l.city = r.city",
    # A pair with no postcode and no birth date to compare meets no rule keyed on them, and
    # the rules above want both initials: a given name replaced (another name, a
    # nickname) leaves only the surname, straight or swapped, in the town. Only such
    # pairs (not postcodes within two edits, which no true pair needed here). A record
    # missing both keys still meets every sound-alike of its town: these four rules make
    # most of the compared pairs, growing with the square of a town's size, and few of
    # the pairs only they meet have evidence enough to be found.
    *(f"{rule} AND l.city = r.city AND {_POSTCODE_AND_DOB_MISSING}" for rule in (
        "l.last_sound = r.last_sound", "l.last_sound_rev = r.last_sound_rev",
        "l.last_sound = r.first_sound", "l.first_sound = r.last_sound")),
)


def blocking_conditions() -> list[str]:
    """Every prediction blocking rule as the SQL condition Splink runs."""
    same = [" AND ".join(f"l.{k} = r.{k}" for k in keys) for keys in PREDICTION_BLOCKING]
    return [*same, *CONDITION_BLOCKING]


def _blocking_rules() -> list[Any]:
    return [block_on(*keys) for keys in PREDICTION_BLOCKING] + [
        CustomRule(condition) for condition in CONDITION_BLOCKING]
# EM needs, for every comparison, one session whose blocking does not fix that field;
# personal keys only: pairs sharing a household phone or address are not a two-class mix.
TRAINING_BLOCKING = (("email",), ("dob",), ("first_name", "last_name"))
_EM_MIN_PAIRS = 50
_M_FLOOR = 1e-3
_EM_MAX_PAIRS = 1e6
_U_MAX_PAIRS = 2e6


def model_path(settings: Settings) -> Path:
    return settings.home / "identity" / "model.json"


def email_comparison() -> cl.CustomComparison:
    """Exact email (with term frequencies) or different.

    No fuzzy levels: mailbox names are usually made of the person's name (and a number),
    so "same mailbox at another domain" or "one character apart" repeat the name
    comparison, and namesakes (``niamh_lee3@`` and ``niamh_lee4@``) would score as one
    person. On large stores these two levels made most of the false matches.
    """
    return cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email"),
            cll.ExactMatchLevel("email").configure(tf_adjustment_column="email"),
            cll.ElseLevel(),
        ],
    )


def location_comparison(engine: AnalyticsEngine = "duckdb") -> cl.CustomComparison:
    """Address, postcode and city as one comparison.

    They move together (a move changes all three; a household shares all three), so
    comparing them separately would count one fact three times. Postcodes one edit apart
    (a typo or two swapped digits) and cities within Jaro-Winkler 0.9 keep part of the
    evidence: registers mistype them as often as names. Registers also swap the two
    address lines and mistype town, postcode and state together (FEBRL): a similar
    address there is still evidence, weaker than in one town.
    """
    jaro_winkler = "jaro_winkler" if engine == "pyspark" else "jaro_winkler_similarity"

    def street(side: str) -> str:  # the first line without its house number
        return f"regexp_replace(\"address_{side}\", '^[0-9]+[a-z]? *', '')"

    lines_swapped = " AND ".join(
        f'{jaro_winkler}("address2_{a}", {street(b)}) >= 0.9' for a, b in (("l", "r"), ("r", "l")))
    return cl.CustomComparison(
        output_column_name="location",
        comparison_levels=[
            cll.And(cll.NullLevel("address"), cll.NullLevel("address2"), cll.NullLevel("postcode"),
                    cll.NullLevel("city"), cll.NullLevel("region")),
            cll.And(cll.ExactMatchLevel("address"), cll.ExactMatchLevel("postcode")).configure(
                label_for_charts="Same address and postcode"
            ),
            cll.And(
                cll.JaroWinklerLevel("address", 0.9), cll.ExactMatchLevel("postcode")
            ).configure(label_for_charts="Similar address, same postcode"),
            cll.And(
                cll.JaroWinklerLevel("address", 0.9), cll.DamerauLevenshteinLevel("postcode", 1)
            ).configure(label_for_charts="Similar address, postcode one edit apart"),
            cll.And(cll.ExactMatchLevel("address2"), cll.JaroWinklerLevel("city", 0.9)
                    ).configure(label_for_charts="Same second address line, similar city"),
            cll.And(cll.ExactMatchLevel("address"), cll.JaroWinklerLevel("city", 0.9)
                    ).configure(label_for_charts="Same address, similar city, postcode not equal"),
            cll.And(cll.JaroWinklerLevel("address", 0.9), cll.JaroWinklerLevel("city", 0.9)
                    ).configure(label_for_charts="Similar address, similar city, postcode not "
                                                 "equal"),
            cll.CustomLevel(lines_swapped).configure(label_for_charts="Address lines swapped"),
            cll.JaroWinklerLevel("address", 0.9).configure(
                label_for_charts="Similar address, other town and postcode"),
            cll.ExactMatchLevel("postcode").configure(
                tf_adjustment_column="postcode", label_for_charts="Same postcode"
            ),
            cll.And(
                cll.DamerauLevenshteinLevel("postcode", 1), cll.JaroWinklerLevel("city", 0.9)
            ).configure(label_for_charts="Postcode one edit apart, similar city"),
            cll.And(_one_side_without_address(), cll.ExactMatchLevel("city")).configure(
                tf_adjustment_column="city",
                label_for_charts="Same city, no address on one side"),
            cll.And(cll.NullLevel("postcode"), cll.ExactMatchLevel("city")).configure(
                tf_adjustment_column="city",
                label_for_charts="Same city, other address, no postcode on one side"),
            cll.ExactMatchLevel("city").configure(
                tf_adjustment_column="city", label_for_charts="Same city"
            ),
            cll.JaroWinklerLevel("city", 0.9).configure(label_for_charts="Similar city"),
            cll.ExactMatchLevel("region").configure(
                tf_adjustment_column="region", label_for_charts="Same region or state"),
            cll.ElseLevel(),
        ],
    )


def _one_side_without_address() -> cll.CustomLevel:
    """Address and postcode both unknown on at least one side.

    Then the city is all there is to compare, and it agreeing means "nothing against";
    pooled with "same city, different address" (two people of one town), a register that
    leaves addresses out half the time lost every such pair.
    """
    return cll.CustomLevel(" OR ".join(
        f'("address_{side}" IS NULL AND "postcode_{side}" IS NULL)' for side in "lr"))


def dob_comparison(engine: AnalyticsEngine = "duckdb") -> cl.CustomComparison:
    """Date of birth as text, so an impossible date (day 33) still counts.

    Splink's DateOfBirthComparison puts an unparseable date on its null level; here the
    text is compared first (exact, then one edit, transpositions included), and only the
    date-distance levels need a real date. An impossible date further off is no evidence
    either way, as if missing: not a date years apart (the household rule reads those as
    another person), and not a level of its own, whose weight EM would learn from which
    records carry impossible dates (in a register, the keyed-in duplicates) rather than
    from whether the two are one person.
    """
    parse = ("try_to_timestamp({}, 'yyyy-MM-dd')" if engine == "pyspark"
             else "try_strptime({}, '%Y-%m-%d')")
    impossible = " OR ".join(parse.format(f'"dob_{side}"') + " IS NULL" for side in "lr")

    def within(threshold: int, metric: str) -> cll.AbsoluteDateDifferenceLevel:
        return cll.AbsoluteDateDifferenceLevel(
            "dob", input_is_string=True, threshold=threshold, metric=metric,  # type: ignore[arg-type]
        )  # each dialect's own ISO date format (strftime on DuckDB, Java's on Spark)

    return cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob").configure(label_for_charts="Exact match on date of birth"),
            cll.DamerauLevenshteinLevel("dob", 1).configure(
                label_for_charts="One edit apart (typo or transposed digits)"),
            cll.CustomLevel(
                'substr("dob_l", 1, 4) = substr("dob_r", 1, 4) AND ('
                'substr("dob_l", 6, 2) = substr("dob_r", 6, 2) OR '
                'substr("dob_l", 9, 2) = substr("dob_r", 9, 2))').configure(
                label_for_charts="Same year, and same month or same day"),
            within(1, "month").configure(label_for_charts="Abs date difference <= 1 month"),
            within(1, "year").configure(label_for_charts="Abs date difference <= 1 year"),
            within(10, "year").configure(label_for_charts="Abs date difference <= 10 year"),
            cll.CustomLevel(impossible).configure(
                label_for_charts="An impossible date, more than one edit apart",
                is_null_level=True),
            cll.ElseLevel(),
        ],
    )


# Levels where the surnames are only similar get half the surname's term-frequency
# adjustment: a typo'd surname's neighbours (names within Jaro-Winkler 0.88) are more
# common than the one spelling, so its full rarity overstated the evidence.
_FUZZY_SURNAME_TF: dict[str, Any] = {"tf_adjustment_column": "last_name",
                                     "tf_adjustment_weight": 1.0}
_HALF_SURNAME_TF: dict[str, Any] = {"tf_adjustment_column": "last_name",
                                    "tf_adjustment_weight": 0.5}


def name_comparison(engine: AnalyticsEngine) -> cl.CustomComparison:
    """Given and family name as one comparison, graded by edits before similarity.

    Registers mistype a name by one or two edits (a letter changed, dropped, doubled or
    two swapped), so "within one edit" and "within two edits" come first, straight and
    swapped; Jaro-Winkler levels follow for the rest (spacing, longer damage). Jaro-Winkler
    alone rates names that share a long stem as close ("Rosenington" and "Rosenthal",
    "Hatelworth" and "Hatelhorn"): ranked above the edit levels, such namesakes of one town
    took the evidence of a mistyped duplicate. Swapped names often carry a typo too; a
    missing given name is no sign of another person, nor of the same one where a household
    shares the surname (the household rule weighs those).
    """
    jaro_winkler = "jaro_winkler" if engine == "pyspark" else "jaro_winkler_similarity"

    def crossed_within(edits: int) -> str:
        return " AND ".join(f'damerau_levenshtein("{a}_l", "{b}_r") <= {edits}' for a, b in (
            ("first_name", "last_name"), ("last_name", "first_name")))

    swapped = " AND ".join(
        f"{jaro_winkler}(\"{a}_l\", \"{b}_r\") >= 0.88"
        for a, b in (("first_name", "last_name"), ("last_name", "first_name"))
    )
    crossed = " OR ".join(f'("{a}_l" = "{b}_r")' for a, b in (
        ("first_name", "last_name"), ("last_name", "first_name")))
    given_missing = '("first_name_l" IS NULL OR "first_name_r" IS NULL)'

    def both_within(edits: int) -> ComparisonLevelCreator:
        return cll.And(cll.DamerauLevenshteinLevel("first_name", edits),
                       cll.DamerauLevenshteinLevel("last_name", edits)).configure(
            label_for_charts=f"Both names within {edits} edit(s)", **_FUZZY_SURNAME_TF)

    def both_close(threshold: float) -> ComparisonLevelCreator:
        return cll.And(cll.JaroWinklerLevel("first_name", threshold),
                       cll.JaroWinklerLevel("last_name", threshold)).configure(
            label_for_charts=f"Both names Jaro-Winkler >= {threshold}", **_FUZZY_SURNAME_TF)

    return cl.CustomComparison(
        output_column_name="first_name_last_name",
        comparison_levels=[
            cll.And(cll.NullLevel("first_name"), cll.NullLevel("last_name")),
            cll.ExactMatchLevel("full_name").configure(tf_adjustment_column="full_name"),
            cll.ColumnsReversedLevel("first_name", "last_name", symmetrical=True),
            both_within(1),
            cll.CustomLevel(crossed_within(1)).configure(
                label_for_charts="Swapped, each within 1 edit", **_FUZZY_SURNAME_TF),
            both_within(2),
            cll.CustomLevel(crossed_within(2)).configure(
                label_for_charts="Swapped, each within 2 edits", **_FUZZY_SURNAME_TF),
            both_close(0.88),
            cll.CustomLevel(swapped).configure(label_for_charts="Swapped, Jaro-Winkler >= 0.88",
                                               **_FUZZY_SURNAME_TF),
            both_close(0.8),
            cll.And(cll.ExactMatchLevel("first_canonical"),
                    cll.JaroWinklerLevel("last_name", 0.88)).configure(
                label_for_charts="Nickname, similar last name", **_FUZZY_SURNAME_TF),
            cll.CustomLevel(
                f'{given_missing} AND damerau_levenshtein("last_name_l", "last_name_r") <= 1'
            ).configure(label_for_charts="A given name missing, last name within 1 edit",
                        **_FUZZY_SURNAME_TF),
            cll.CustomLevel(
                f'{given_missing} AND {jaro_winkler}("last_name_l", "last_name_r") >= 0.88'
            ).configure(label_for_charts="A given name missing, similar last name",
                        **_HALF_SURNAME_TF),
            cll.ExactMatchLevel("last_name").configure(tf_adjustment_column="last_name"),
            cll.ExactMatchLevel("first_name").configure(tf_adjustment_column="first_name"),
            cll.JaroWinklerLevel("last_name", 0.88).configure(
                label_for_charts="Similar last name", **_HALF_SURNAME_TF),
            cll.JaroWinklerLevel("first_name", 0.88).configure(
                label_for_charts="Similar first name"),
            cll.CustomLevel(crossed).configure(
                label_for_charts="One name in the other field (the other missing or replaced)"),
            cll.ElseLevel(),
        ],
    )


def splink_settings(engine: AnalyticsEngine = "duckdb") -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            name_comparison(engine),
            dob_comparison(engine),
            email_comparison(),
            cl.LevenshteinAtThresholds("phone", [1, 2]),
            location_comparison(engine),
        ],
        blocking_rules_to_generate_predictions=_blocking_rules(),
        retain_intermediate_calculation_columns=True,
        max_iterations=15,
        em_convergence=0.001,
        retain_matching_columns=False,
    )


def database_api(settings: Settings) -> DatabaseAPI[Any]:
    """DuckDB in-process by default; Spark when the analytics engine says so."""
    if settings.analytics_engine == "pyspark":
        from pyspark.sql import SparkSession
        from splink import SparkAPI
        from splink.backends.spark import similarity_jar_location

        # Splink's string-similarity UDFs live in a jar that must be on the classpath
        # when the session starts (a session started earlier without it lacks them).
        spark = (
            SparkSession.builder.master(settings.analytics_url or "local[2]")
            .appName("kithkin-identify")
            .config("spark.jars", similarity_jar_location())
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        spark.sparkContext.setCheckpointDir(str(settings.home / "spark-checkpoints"))
        api: DatabaseAPI[Any] = SparkAPI(spark_session=spark)  # type: ignore[no-untyped-call]
        return api
    from splink import DuckDBAPI

    return DuckDBAPI()


def _pairs_sharing(frame: pd.DataFrame, keys: tuple[str, ...]) -> int:
    """How many record pairs agree on all ``keys`` (none of them NULL)."""
    sizes = frame.dropna(subset=list(keys)).groupby(list(keys)).size()
    return int((sizes * (sizes - 1) // 2).sum())


class _UnobservedLevels(logging.Filter):
    """Collects Splink's one-warning-per-level "not observed" messages instead of
    printing them (dozens on a register without email or phone)."""

    _PATTERN = re.compile(r"Level (.+) on comparison (\S+) not observed in dataset, "
                          r"unable to train (m|u) value")

    def __init__(self) -> None:
        super().__init__()
        self.levels: dict[str, dict[str, set[str]]] = {"m": {}, "u": {}}

    def filter(self, record: logging.LogRecord) -> bool:
        found = self._PATTERN.search(record.getMessage())
        if found is None:
            return True
        level, comparison, which = found.groups()
        self.levels[which].setdefault(comparison, set()).add(level)
        return False

    def notes(self, frame: pd.DataFrame) -> list[str]:
        """One line per comparison whose levels could not be trained, saying why."""
        out = []
        for comparison, levels in sorted(self.levels["m"].items()):
            share = (float(frame[comparison].notna().mean())
                     if comparison in frame.columns else None)
            if share is not None and share < 0.01:
                out.append(f"{comparison}: too sparse to train ({share:.1%} of records have "
                           "it); it adds no evidence and matching uses the other fields")
            else:
                out.append(f"{comparison}: {len(levels)} agreement level(s) never seen among "
                           f"training pairs ({'; '.join(sorted(levels))}); they count as "
                           "weak evidence")
        return out


@contextmanager
def _quiet_splink(collector: _UnobservedLevels) -> Iterator[None]:
    target = logging.getLogger("splink.internals.expectation_maximisation")
    target.addFilter(collector)
    try:
        yield
    finally:
        target.removeFilter(collector)


def _train(linker: Linker, frame: pd.DataFrame, *, log: list[str]) -> None:
    collector = _UnobservedLevels()
    with _quiet_splink(collector):
        _train_model(linker, frame, log=log)
    log.extend(collector.notes(frame))


def _train_model(linker: Linker, frame: pd.DataFrame, *, log: list[str]) -> None:
    """u by random sampling, the prior from near-certain rules, m by EM per blocking rule.

    A training rule that yields too few pairs (emails already made unique by
    deterministic matching on import, say) is skipped rather than failing the run.
    """
    training = linker.training
    # Near-certain rules over the fields a register has: without email (or dates of
    # birth), name + date of birth alone would find few pairs and set the prior far too
    # low, so the same name at the same postcode counts too.
    training.estimate_probability_two_random_records_match(
        [block_on("email"), block_on("first_name", "last_name", "dob"),
         block_on("first_name", "last_name", "postcode")], recall=0.6
    )
    u_pairs = min(_U_MAX_PAIRS, max(2e5, 20.0 * len(frame)))  # the cost is the sample size
    training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=42)
    _fill_unobserved_u(linker, sampled_pairs=u_pairs)
    for keys in TRAINING_BLOCKING:
        if (pairs := _pairs_sharing(frame, keys)) < _EM_MIN_PAIRS:
            log.append(f"EM on {'+'.join(keys)} skipped: only {pairs} pairs")
            continue
        try:
            with splink_adapter.model_restored_on_error(linker):
                training.estimate_parameters_using_expectation_maximisation(
                    block_on(*keys), estimate_without_term_frequencies=True,
                    max_pairs=_EM_MAX_PAIRS if pairs > _EM_MAX_PAIRS else None,
                )
        except Exception as exc:  # one failed session must not stop the run
            log.append(f"EM on {'+'.join(keys)} failed: {exc}")
            logger.warning("EM on %s failed: %s", keys, exc)
    if raised := splink_adapter.floor_m(linker, _M_FLOOR):
        log.append(f"{raised} agreement level(s) had m = 0 after EM; raised to {_M_FLOOR:g} "
                   "so one rare disagreement is strong but finite evidence")


def _fill_unobserved_u(linker: Linker, *, sampled_pairs: float) -> None:
    """Give levels no sampled pair reached ``u = 0.5 / sampled_pairs`` explicitly.

    At a million records, agreement on email, phone or address is so rare among random
    pairs that the sample may contain none. Splink then uses ``u = 1e-6`` in memory but
    leaves ``u`` out of the saved model, so a later run that reuses it falls back to a
    default near 1e-3, and those agreements lose ten bits of evidence. Half a pair in the
    sample is the usual continuity estimate of a zero count, and it is what is saved.
    """
    splink_adapter.fill_untrained_u(linker, 0.5 / sampled_pairs)


def _saved_dialect(path: Path) -> str | None:
    """The SQL dialect a saved model was written for; None when it cannot be read (the
    Linker then reports why)."""
    try:
        dialect = json.loads(path.read_text()).get("sql_dialect")
    except (OSError, ValueError, AttributeError):
        return None
    return dialect if isinstance(dialect, str) else None


def _typed_for(engine: AnalyticsEngine, api: DatabaseAPI[Any], frame: pd.DataFrame) -> Any:
    """The matching table as the engine should see it. Spark infers column types from
    values and gives up on a column that is empty in every row (no email in a register,
    no region in a file): there every field is declared text."""
    if engine != "pyspark":
        return frame
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    schema = StructType([StructField("unique_id", LongType(), False), *(
        StructField(name, StringType(), True) for name in frame.columns if name != "unique_id")])
    rows = frame.astype(object).where(frame.notna(), None)
    return cast(Any, api).spark.createDataFrame(rows, schema=schema)


def score_pairs(
    frame: pd.DataFrame,
    *,
    settings: Settings,
    threshold: float,
    retrain: bool = False,
    step: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score candidate pairs of ``frame`` (see :mod:`kithkin.identity.features`).

    Returns the pairs at or above ``threshold`` (columns ``customer_id_l``,
    ``customer_id_r``, ``match_probability``, ``match_weight``, ``weights``) and a report
    of how the model was obtained. Trains and saves the model when there is none or
    ``retrain`` is set; otherwise reuses the saved one. Runs on the analytics engine of
    ``settings``; the model is kept in its workspace.
    """
    engine = settings.analytics_engine
    api = database_api(settings)
    table = api.register(_typed_for(engine, api, frame), table_name="kithkin_customers")
    path = model_path(settings)
    notes: list[str] = []
    trained = retrain or not path.exists()
    linker = None
    dialect = "spark" if engine == "pyspark" else "duckdb"
    if not trained and (saved := _saved_dialect(path)) not in (None, dialect):
        # Its SQL (quoting, function names) is that dialect's: Spark reads DuckDB's
        # "column" as a string literal and finds no column to block on.
        notes.append(f"saved model was trained on {saved}, not {dialect}; retrained")
        trained = True
    if not trained:
        try:
            linker = Linker(table, str(path), log_level=logging.WARNING)
        except Exception as exc:  # an unreadable or outdated model is retrained
            notes.append(f"saved model unusable ({exc}); retrained")
            trained = True
    started = time.perf_counter()
    if linker is None:
        linker = Linker(table, splink_settings(engine), log_level=logging.WARNING)
        if step:
            step("training (u by sampling, m by EM)")
        _train(linker, frame, log=notes)
        path.parent.mkdir(parents=True, exist_ok=True)
        linker.misc.save_model_to_json(str(path), overwrite=True)
    # No pair agreeing on a near-certain rule (a small file, e-mails all different, no
    # dates of birth) left the prior at 0 (a saved model too), and scoring failed on
    # log2(0); half a pair among all pairs is the usual continuity estimate of a zero
    # count, refitted to the scored pairs below
    all_pairs = max(len(frame) * (len(frame) - 1) / 2, 1.0)
    if splink_adapter.floor_prior(linker, 0.5 / all_pairs):
        notes.append("no pair agreed on e-mail, or on name with birth date or postcode: "
                     f"the prior P(match) starts at half a pair in {all_pairs:,.0f}")
    trained_at = time.perf_counter()
    if step:
        step("scoring blocked pairs")
    _register_term_frequencies(linker, api, frame, engine)
    chunks = max(1, math.ceil(len(frame) / 500_000))
    predictions = linker.inference.predict(
        threshold_match_weight=_CALIBRATION_WEIGHT,
        num_chunks_left=chunks, num_chunks_right=1, warning_mode="never",
    )
    pairs: pd.DataFrame = predictions.as_pandas_dataframe()  # type: ignore[no-untyped-call]
    prior = splink_adapter.prior(linker)
    pairs, fitted = calibrated_prior(pairs, records=len(frame), prior=prior)
    notes.append(f"prior P(match) {prior:.3g} from near-certain rules, {fitted:.3g} after "
                 f"refitting it to the {len(pairs):,} pairs scored above "
                 f"{_CALIBRATION_WEIGHT:g} bits")
    odds = household_odds(frame)
    ratio = _dates_apart_per_same(linker)
    other, named, apart = odds.other(), odds.named(ratio), odds.apart(ratio)
    notes.append(
        f"households: records sharing surname and address with other given names have one "
        f"birth date in {odds.other_same:,} pairs and dates years apart in "
        f"{odds.other_apart:,}; with one full name, {odds.named_same:,} and "
        f"{odds.named_apart:,}. Such pairs are held to P(same person) "
        f"{other / (1 + other):.2f} and {named / (1 + named):.2f}; with other names and "
        f"dates years apart, {apart / (1 + apart):.2f}")
    # Every scored pair, not only those above the threshold: the household rule raises
    # some pairs as well as lowering others.
    scored = _with_weights(linker, pairs, household_cap=math.log2(other),
                           namesake_cap=math.log2(named), apart_cap=math.log2(apart))
    scored = scored[scored["match_probability"] >= threshold]
    report = {"model": "trained" if trained else "reused", "model_path": str(path),
              "engine": engine, "notes": notes,
              "pairs_scored": int((pairs["match_probability"] >= threshold).sum()),
              "train_seconds": round(trained_at - started, 3),
              "predict_seconds": round(time.perf_counter() - trained_at, 3)}
    return scored, report


_CALIBRATION_WEIGHT = -10.0
_MAX_PRIOR_SHIFT_BITS = 8.0
_TF_COLUMNS = ("full_name", "first_name", "last_name", "email", "postcode", "city", "region")


def term_frequencies(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Each value's share of the *other people*: ``(holders - 1) / records``, where the
    holders of a value are its distinct (first name, last name, postcode) triples, all
    three known; a value no other person holds gets half a holder's share, but never
    more than the chance that two random records agree on the column.

    Splink's own table uses ``count / records``, and a register's duplicates inflate
    that count: a surname held by one person recorded four times looks four times as
    common, and a pair agreeing on it loses two bits for every doubling. A pair agreeing
    on a value held by two people is also one of the two itself: under "different
    people", the chance that a random record holds it is one in ``records``, not two.
    A value held by one person has no such chance at all; half a holder is the usual
    estimate of a count seen zero times. On a small register that is more than the
    level's own ``u`` (the rate at which random records agree on any value, mostly that
    of the common values), and a full holder's share there cost every unique full name
    and postcode two to three bits: capped at that rate, such a value weighs at least
    what the level weighs on average. On a large register the share is far below it,
    and a unique name counts for more than one held by two people, not less. A record
    missing part of the person key (a duplicate without postcode) is no evidence of
    another holder.
    """
    person = [c for c in ("first_name", "last_name", "postcode") if c != column]
    records = max(len(frame), 1)
    values = frame[column].dropna()
    counts = values.value_counts(sort=False)
    agree = float((counts * (counts - 1)).sum()) / max(records * (records - 1), 1)
    held = frame[[column, *person]].dropna().drop_duplicates()
    holders = held.groupby(column, sort=False).size().reindex(counts.index, fill_value=1)
    others = (holders - 1).to_numpy(float)
    shares = np.where(others > 0, others / records, min(0.5 / records, agree))
    kept = shares > 0  # no two records agree: the level's own u for every value
    return pd.DataFrame({column: counts.index[kept].astype(str),
                         f"tf_{column}": shares[kept]})


def _register_term_frequencies(linker: Linker, api: DatabaseAPI[Any], frame: pd.DataFrame,
                               engine: AnalyticsEngine) -> None:
    for column in _TF_COLUMNS:
        table = term_frequencies(frame, column)
        if engine == "pyspark":  # typed: Spark cannot infer a schema from no rows
            from pyspark.sql.types import DoubleType, StringType, StructField, StructType

            schema = StructType([StructField(column, StringType(), False),
                                 StructField(f"tf_{column}", DoubleType(), False)])
            table = cast(Any, api).spark.createDataFrame(
                list(table.itertuples(index=False, name=None)), schema=schema)
        registered = api.register(table, table_name=f"kithkin_tf_{column}")
        linker.table_management.register_term_frequency_lookup(registered, column)


def _logit2(p: float) -> float:
    return math.log2(p / (1.0 - p))


def calibrated_prior(pairs: pd.DataFrame, *, records: int, prior: float
                     ) -> tuple[pd.DataFrame, float]:
    """Refit P(match) by EM over the scored pairs, ``m`` and ``u`` held fixed.

    The prior from near-certain rules assumes those rules find a fixed share of the true
    pairs; on a register without email, or with dates of birth mostly missing, they find
    far fewer and the prior comes out tens of times too low, which sinks every pair with
    only names and an address. The expected number of matches is the sum of the match
    probabilities, so ``prior = sum(p) / all pairs`` is iterated to its fixed point
    (Winkler 2000's EM for the mixing weight), solved with a root finder rather than by
    slow fixed-point steps. Pairs below the scoring floor add almost nothing and are left
    out, which errs low; the shift is capped at 8 bits either way.
    """
    if pairs.empty or records < 2:
        return pairs, prior
    evidence = pairs["match_weight"].to_numpy(dtype=float) - _logit2(prior)
    total = records * (records - 1) / 2

    def gap(log_prior: float) -> float:  # log(expected matches / total) - log(prior)
        odds = evidence + _logit2(math.exp(log_prior))
        expected = float((1.0 / (1.0 + np.exp2(-odds))).sum())
        return math.log(max(expected, 1e-300) / total) - log_prior

    shift = _MAX_PRIOR_SHIFT_BITS * math.log(2)
    low, high = math.log(prior) - shift, min(math.log(prior) + shift, math.log(0.5))
    if gap(low) <= 0:
        fitted = math.exp(low)
    elif gap(high) >= 0:
        fitted = math.exp(high)
    else:
        fitted = math.exp(brentq(gap, low, high, xtol=1e-4))
    weight = evidence + _logit2(fitted)
    out = pairs.copy()
    out["match_weight"] = weight
    out["match_probability"] = 1.0 / (1.0 + np.exp2(-weight))
    return out, fitted


# Agreement levels, by label (a saved model keeps them; positions would silently shift
# when a level is added), that say "same person": names equal, swapped, within
# Jaro-Winkler 0.8 or a nickname; date of birth equal, one edit apart, the same year with
# the same month or day (a mistyped or impossible day or month), or a month apart; the
# same email. A missing given name or one name in the other field is not among them:
# with a shared surname and address that is every member of the household (the household
# odds decide). tests/identity checks that each label names a level of the model.
_PERSON_AGREES: dict[str, frozenset[str]] = {
    "first_name_last_name": frozenset({
        "Exact match on full_name",
        "Match on reversed cols: first_name and last_name (both directions)",
        "Both names within 1 edit(s)", "Swapped, each within 1 edit",
        "Both names within 2 edit(s)", "Swapped, each within 2 edits",
        "Both names Jaro-Winkler >= 0.88", "Swapped, Jaro-Winkler >= 0.88",
        "Both names Jaro-Winkler >= 0.8", "Nickname, similar last name"}),
    "dob": frozenset({"Exact match on date of birth",
                      "One edit apart (typo or transposed digits)",
                      "Same year, and same month or same day",
                      "Abs date difference <= 1 month"}),
    "email": frozenset({"Exact match on email"}),
}
# Dates of birth both real and more than a year apart: not a typo, another person.
_DOB_CONTRADICTS = frozenset({"Abs date difference <= 10 year", "All other comparisons"})
_HOUSEHOLD_FIELDS = ("phone", "location")
_SAME_HOME = frozenset({"Same address and postcode"})
_SURNAME_ONLY = frozenset({"Exact match on last_name", "Similar last name"})


@dataclass(frozen=True)
class HouseholdOdds:
    """Pairs sharing surname, address and postcode with both birth dates known, counted
    by whether the dates are equal or years apart: ``other_*`` where the given names
    start with different letters, ``named_*`` where the full names are equal."""

    other_same: int
    other_apart: int
    named_same: int
    named_apart: int

    def other(self) -> float:
        """Odds that a pair of one surname and address but another given name is one
        person (a given name replaced) rather than two (half a pair added to each)."""
        return (self.other_same + 0.5) / (self.other_apart + 0.5)

    def named(self, apart_per_same: float) -> float:
        """Odds that a pair of one full name and address whose birth dates are years
        apart is one person (a birth date replaced) rather than two (a namesake parent
        or child): the pairs with one date, times how often one person's dates are years
        apart for once that they agree (the model's ``m``), are the expected replaced
        dates; the rest of the pairs years apart are namesakes, but no more than the
        register's households hold.

        A namesake parent or child lives in a household with other members, so there
        are at most as many namesake pairs as pairs of other given names with dates
        years apart that are not themselves a duplicate with both name and date replaced.
        Without that bound, the few replaced dates that the model's ``m`` did not
        account for were all taken for namesakes in a register of no households
        (FEBRL), and a close estimate moved every such pair across the threshold."""
        ratio = min(max(apart_per_same, 0.0), 1.0)
        replaced = self.named_same * ratio
        namesakes = min(max(self.named_apart - replaced, 0.0), self._households(ratio))
        return (replaced + 0.5) / (namesakes + 0.5)

    def apart(self, apart_per_same: float) -> float:
        """Odds that a pair of one surname and address with another given name and dates
        years apart is one person (name and date both replaced) rather than two
        household members: the pairs with one date times the model's ratio are the
        expected duplicates, the rest of those pairs years apart the households."""
        ratio = min(max(apart_per_same, 0.0), 1.0)
        return (self.other_same * ratio + 0.5) / (self._households(ratio) + 0.5)

    def _households(self, ratio: float) -> float:
        """Pairs of other given names years apart, less those expected from a
        duplicate with given name and birth date both replaced, and less two standard
        deviations of that count (Poisson): an excess chance alone explains is no
        evidence of households. On a register of none (FEBRL 4: 9 such pairs, 5.2
        expected) the bare difference read four households into noise and held 21 true
        pairs of one surname and address to P 0.57; a register of households has many
        more such pairs than its duplicates explain, and loses little to the margin."""
        expected = self.other_same * ratio
        return max(self.other_apart - expected - 2.0 * math.sqrt(expected), 0.0)


def household_odds(frame: pd.DataFrame) -> HouseholdOdds:
    """Count, on this register, how often "same surname and address" is one person.

    Members of a household share surname, address, postcode and often a landline, which
    breaks the independence the model assumes: each shared field scores as if it were a
    coincidence among strangers. Whether such a pair is a duplicate with a given name or
    birth date replaced or a family member depends on the register (households or not),
    so the odds are measured where birth dates tell the two apart and applied where they
    cannot (missingness taken as unrelated to being a duplicate).
    """
    cols = ["unique_id", "first_name", "last_name", "dob", "address", "postcode"]
    known = frame.loc[frame[cols[1:]].notna().all(axis=1), cols]
    born = pd.to_datetime(known["dob"], errors="coerce", format="%Y-%m-%d")
    known = known.assign(born=born).dropna(subset=["born"])
    pairs = known.merge(known, on=["last_name", "address", "postcode"], suffixes=("_l", "_r"))
    pairs = pairs[pairs["unique_id_l"] < pairs["unique_id_r"]]
    left, right = pairs["born_l"], pairs["born_r"]
    # "One birth date" as the dob comparison's agreeing levels see it: within a month, or
    # the same year with the same month or day (a typo).
    same = (((left - right).abs() <= pd.Timedelta(days=31))
            | ((left.dt.year == right.dt.year)
               & ((left.dt.month == right.dt.month) | (left.dt.day == right.dt.day))))
    apart = (left - right).abs() > pd.Timedelta(days=366)
    other = pairs["first_name_l"].str[:1] != pairs["first_name_r"].str[:1]
    named = pairs["first_name_l"] == pairs["first_name_r"]
    return HouseholdOdds(other_same=int((other & same).sum()),
                         other_apart=int((other & apart).sum()),
                         named_same=int((named & same).sum()),
                         named_apart=int((named & apart).sum()))


def _dates_apart_per_same(linker: Linker) -> float:
    """The model's P(birth dates years apart | one person) / P(they agree | one person)."""
    levels = splink_adapter.comparisons(linker).get("dob", [])

    def m(labels: frozenset[str]) -> float:
        return sum(level.m_probability or 0.0 for level in levels if level.label in labels)

    agree = m(_PERSON_AGREES["dob"])
    return m(_DOB_CONTRADICTS) / agree if agree > 0 else 0.0


def _with_weights(linker: Linker, pairs: pd.DataFrame, *, household_cap: float = -math.inf,
                  namesake_cap: float = -math.inf, apart_cap: float = -math.inf
                  ) -> pd.DataFrame:
    """Per-comparison match weights (``mw_*`` plus its term-frequency adjustment).

    Splink 5 returns weights rather than comparison vectors; the agreement level is the
    level whose model weight equals the observed one (null levels weigh exactly 0).

    Household rule: members of one household share phone, address, postcode and city,
    which breaks the conditional independence the model assumes and would score them as
    one person. When no person-level field (name, date of birth, email) agrees, the pair's
    log-odds are held to ``household_cap`` (the odds measured by :func:`household_odds`),
    never below what is left without the household evidence. When the birth dates are
    years apart, names that agree are held to ``namesake_cap`` and names that do not to
    ``apart_cap`` (by default they lose the household evidence).
    """
    out = pd.DataFrame({
        "customer_id_l": pairs["unique_id_l"].astype("int64"),
        "customer_id_r": pairs["unique_id_r"].astype("int64"),
    })
    swapped = out["customer_id_l"] > out["customer_id_r"]
    out.loc[swapped, ["customer_id_l", "customer_id_r"]] = (
        out.loc[swapped, ["customer_id_r", "customer_id_l"]].to_numpy()
    )
    fields: dict[str, tuple[npt.NDArray[np.intp], list[str], np.ndarray]] = {}
    nulls: dict[str, list[int]] = {}
    for name, comparison_levels in splink_adapter.comparisons(linker).items():
        nulls[name] = [i for i, level in enumerate(comparison_levels) if level.is_null]
        model = [level.match_weight for level in comparison_levels]
        base = pd.to_numeric(pairs.get(f"mw_{name}"), errors="coerce").fillna(0.0)
        tf = pairs.get(f"mw_tf_adj_{name}")
        total = base + (0.0 if tf is None else pd.to_numeric(tf, errors="coerce").fillna(0.0))
        levels = _nearest(model, base.to_numpy(dtype=float))
        labels = [level.label for level in comparison_levels]
        fields[name] = (levels, labels, total.to_numpy(dtype=float))

    def at(name: str, wanted: frozenset[str]) -> npt.NDArray[np.bool_]:
        levels, labels, _ = fields[name]
        return np.isin(levels, [i for i, label in enumerate(labels) if label in wanted])

    def unknown(name: str) -> npt.NDArray[np.bool_]:  # a null level: no evidence
        return np.isin(fields[name][0], nulls[name])

    weight = pairs["match_weight"].to_numpy(dtype=float).copy()
    person_agrees = np.zeros(len(pairs), dtype=bool)
    for name, agreeing in _PERSON_AGREES.items():
        person_agrees |= at(name, agreeing)
    dob_contradicts = at("dob", _DOB_CONTRADICTS)
    household = np.sum([np.clip(fields[f][2], 0, None) for f in _HOUSEHOLD_FIELDS], axis=0)
    names_agree = at("first_name_last_name", _PERSON_AGREES["first_name_last_name"])
    # Birth dates years apart with names that agree: a date replaced or a namesake parent
    # or child; with names that do not, name and date replaced or another household
    # member (each at the register's odds).
    cap = np.where(dob_contradicts, np.where(names_agree, namesake_cap, apart_cap),
                   household_cap)
    kept = np.maximum(weight - household, np.minimum(weight, cap))
    # One surname (or a typo of it) at one address and postcode, birth dates unknown and
    # no other personal field agreeing: the very pairs household_odds counts, so its
    # odds are their answer, raising as well as lowering (the fields' weights count the
    # shared address as a coincidence among strangers; on a register without households
    # nearly every such pair is one person).
    at_home = (at("location", _SAME_HOME) & at("first_name_last_name", _SURNAME_ONLY)
               & unknown("dob"))
    kept = np.where(at_home & ~person_agrees, np.maximum(kept, household_cap), kept)
    trusted = person_agrees & ~dob_contradicts
    weight = np.where(trusted, weight, kept)
    out["match_weight"] = weight
    out["match_probability"] = np.where(
        trusted, pairs["match_probability"].to_numpy(dtype=float),
        1.0 / (1.0 + np.exp2(-weight)),
    )
    out["weights"] = [
        {name: {"level": labels[levels[i]], "weight": round(float(totals[i]), 3)}
         for name, (levels, labels, totals) in fields.items()}
        for i in range(len(pairs))
    ]
    return out


def _nearest(model: list[float], weights: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """Each weight's level: the one whose model weight is nearest (the first on a tie,
    level 0 for a missing weight), a level at a time rather than a pair at a time."""
    nearest = np.zeros(len(weights), dtype=np.intp)
    distance = np.abs(weights - model[0])
    for level, value in enumerate(model[1:], start=1):
        closer = np.abs(weights - value)
        better = closer < distance
        nearest[better], distance[better] = level, closer[better]
    return nearest
