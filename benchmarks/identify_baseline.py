"""The library baseline of benchmarks/identify.py: recordlinkage's ECM classifier.

The textbook setup of the Python Record Linkage Toolkit: candidate pairs from blocks on
postcode and on date of birth plus a sorted neighbourhood on the last name (window 5);
binary agreements (Jaro-Winkler >= 0.85 on names and address, exact on the rest, a
missing value disagreeing); the classifier fitted by expectation-conditional
maximisation, no labels.

Run in one piece, as the toolkit's tutorials do, it cannot reach a million records: the
sorted neighbourhood pairs every holder of a surname with every other (plus the holders
of the two surnames either side), which grows with the square of the register, and the
toolkit builds every pair as a pandas MultiIndex and compares each in Python; at a
million simulated records that index alone took the 23 GB of the machine. So here the
same blocking and the same agreements are computed in DuckDB and only counted: ECM gives
every pair with one agreement pattern the same class (with eight binary agreements, at
most 256 patterns), so the counts of compared pairs and of true pairs per pattern give
precision and recall exactly, without holding any pair. ECM itself is the toolkit's,
fitted on the pairs' vectors, or on a uniform random sample of ``train_pairs`` of them
where there are more (its estimates rest on the patterns' counts, which a sample of
millions measures to well under a percent).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pandas as pd

STRING_FIELDS = ("first_name", "last_name", "address")
EXACT_FIELDS = ("dob", "postcode", "city", "email", "phone")
FIELDS = (*STRING_FIELDS, *EXACT_FIELDS)
_WINDOW = 2  # sorted neighbourhood window 5: two surnames either side


def _pattern() -> str:
    """The agreement vector as one integer, a bit per field (recordlinkage's labels)."""
    bits = [f"coalesce(jaro_winkler_similarity(l.{name}, r.{name}) >= 0.85, false)"
            for name in STRING_FIELDS]
    bits += [f"coalesce(l.{name} = r.{name}, false)" for name in EXACT_FIELDS]
    return " + ".join(f"(({bit})::INTEGER << {i})" for i, bit in enumerate(bits))


def _candidate_queries() -> list[str]:
    """The union of the three indexes as disjoint parts, so no pair is held to remove
    duplicates: the sorted neighbourhood's pairs, then postcode pairs it missed, then date
    of birth pairs neither found. A missing key meets nothing (the toolkit drops it)."""
    near = "coalesce(abs(l.rank - r.rank) <= 2, false)"
    parts = [f"FROM records l JOIN records r ON r.rank = l.rank + {d}"
             + (" AND l.unique_id < r.unique_id" if d == 0 else "")
             for d in range(_WINDOW + 1)]
    parts.append("FROM records l JOIN records r ON l.postcode = r.postcode "
                 f"AND l.unique_id < r.unique_id AND NOT {near}")
    parts.append("FROM records l JOIN records r ON l.dob = r.dob "
                 f"AND l.unique_id < r.unique_id AND NOT {near} "
                 "AND NOT coalesce(l.postcode = r.postcode, false)")
    return parts


def pattern_counts(con: Any, frame: pd.DataFrame, true_pairs: set[tuple[int, int]], *,
                   memory_limit: str = "4GB") -> pd.DataFrame:
    """Compared pairs and true pairs per agreement pattern (columns ``pattern``, ``pairs``,
    ``true_pairs``), on the DuckDB connection ``con`` (which a caller may interrupt)."""
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.register("f", frame[["unique_id", *FIELDS]])
    con.register("truth", pd.DataFrame(sorted(true_pairs), columns=["a", "b"]))
    con.execute(
        "CREATE TABLE records AS SELECT f.*, s.rank FROM f LEFT JOIN ("
        "SELECT last_name, (row_number() OVER (ORDER BY last_name) - 1)::BIGINT AS rank "
        "FROM (SELECT DISTINCT last_name FROM f WHERE last_name IS NOT NULL)) s "
        "USING (last_name)")
    pairs = " UNION ALL ".join(
        f"SELECT least(l.unique_id, r.unique_id) AS a, greatest(l.unique_id, r.unique_id) "
        f"AS b, {_pattern()} AS pattern {part}" for part in _candidate_queries())
    counts = con.execute(
        f"SELECT p.pattern, count(*) AS pairs, count(t.a) AS true_pairs FROM ({pairs}) p "
        "LEFT JOIN truth t ON t.a = p.a AND t.b = p.b GROUP BY p.pattern ORDER BY p.pattern"
    ).df()
    return counts


def _vectors(patterns: np.ndarray) -> pd.DataFrame:
    bits = (patterns[:, None].astype(np.int64) >> np.arange(len(FIELDS))) & 1
    return pd.DataFrame(bits.astype(np.int8), columns=list(FIELDS))


def ecm_match_patterns(counts: pd.DataFrame, *, train_pairs: int, seed: int
                       ) -> tuple[np.ndarray, int]:
    """Which patterns the toolkit's ECM classes as matches, fitted on every pair's vector
    or a uniform sample of ``train_pairs``; and how many pairs it was fitted on."""
    import recordlinkage

    n = counts["pairs"].to_numpy(np.int64)
    if n.sum() > train_pairs:
        n = np.random.default_rng(seed).multivariate_hypergeometric(n, train_pairs)
    sample = _vectors(np.repeat(counts["pattern"].to_numpy(), n))
    classifier = recordlinkage.ECMClassifier(binarize=None)
    classifier.fit(sample)
    vectors = _vectors(counts["pattern"].to_numpy())
    matches = np.zeros(len(vectors), dtype=bool)
    matches[np.asarray(classifier.predict(vectors), dtype=np.int64)] = True
    return matches, int(n.sum())


def baseline_scores(frame: pd.DataFrame, true_pairs: set[tuple[int, int]], *, timeout: float,
                    train_pairs: int = 5_000_000, seed: int = 0) -> dict[str, Any]:
    """The baseline's pair scores against ``true_pairs``, its compared pairs and the share
    of true pairs among them; stops after ``timeout`` seconds."""
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    timer = threading.Timer(timeout, con.interrupt)
    timer.start()
    try:
        counts = pattern_counts(con, frame, true_pairs)
    except duckdb.InterruptException:
        return {"error": f"stopped after {timeout:.0f} s"}
    finally:
        timer.cancel()
    matches, fitted_on = ecm_match_patterns(counts, train_pairs=train_pairs, seed=seed)
    found = int(counts["true_pairs"].to_numpy()[matches].sum())
    predicted = int(counts["pairs"].to_numpy()[matches].sum())
    precision = found / predicted if predicted else 1.0
    recall_pairs = found / len(true_pairs) if true_pairs else 1.0
    f1 = (2 * precision * recall_pairs / (precision + recall_pairs)
          if precision + recall_pairs else 0.0)
    scores = {"precision": precision, "recall": recall_pairs, "f1": f1,
              "true_positives": found, "predicted": predicted, "actual": len(true_pairs)}
    compared = int(counts["pairs"].sum())
    recall = float(counts["true_pairs"].sum()) / len(true_pairs) if true_pairs else 1.0
    return {"seconds": time.perf_counter() - started, "compared": compared,
            "blocking_recall": recall, "trained_on": fitted_on, "pairs": scores}
