"""The library baseline of benchmarks/identify.py: recordlinkage's ECM classifier.

The textbook setup of the Python Record Linkage Toolkit: candidate pairs from blocks on
postcode and on date of birth plus a sorted neighbourhood on the last name; binary
agreements (Jaro-Winkler >= 0.85 on names and address, exact on the rest); the
classifier fitted by expectation-conditional maximisation, no labels.

Run in one piece, as the toolkit's tutorials do, it needs more than 8 GB at a million
records: the union of the three indexes is built as one pandas MultiIndex, the string
comparisons hold every compared pair's values as Python objects, and the comparison
vectors are floats. Here the same steps run in pieces, with the same results:

- each indexer builds its own pairs, kept as one integer per pair, and the union is a
  sort of those integers;
- comparison vectors are computed by the toolkit a chunk of pairs at a time and kept as
  bytes (each agreement is 0 or 1);
- ECM is fitted on a uniform random sample of the vectors when there are more than
  ``train_pairs`` (with eight binary agreements its estimates rest on the counts of each
  agreement pattern, which a sample of millions measures to well under a percent), and
  the fitted classifier labels every pair, a chunk at a time.

Below ``train_pairs`` the fit sees every pair, exactly as the one-piece run does.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

STRING_FIELDS = ("first_name", "last_name", "address")
EXACT_FIELDS = ("dob", "postcode", "city", "email", "phone")


def _indexers() -> list[Callable[[Any], None]]:
    return [lambda index: index.block("postcode"), lambda index: index.block("dob"),
            lambda index: index.sortedneighbourhood("last_name", window=5)]


def candidate_keys(data: pd.DataFrame) -> npt.NDArray[np.int64]:
    """The distinct candidate pairs of the three indexers, each as ``low * n + high`` over
    record positions (one int64 per pair rather than a MultiIndex of the union)."""
    import recordlinkage

    n = len(data)
    parts = []
    for build in _indexers():
        index = recordlinkage.Index()
        build(index)
        pairs = index.index(data)
        left = data.index.get_indexer(pairs.get_level_values(0)).astype(np.int64)
        right = data.index.get_indexer(pairs.get_level_values(1)).astype(np.int64)
        del pairs
        parts.append(np.minimum(left, right) * n + np.maximum(left, right))
    return np.unique(np.concatenate(parts))


def comparison_vectors(data: pd.DataFrame, keys: npt.NDArray[np.int64], *, chunk: int
                       ) -> npt.NDArray[np.int8]:
    """Agreement vectors of every candidate pair, computed by the toolkit a chunk at a time."""
    import recordlinkage

    compare = recordlinkage.Compare()
    for name in STRING_FIELDS:
        compare.string(name, name, method="jarowinkler", threshold=0.85, label=name)
    for name in EXACT_FIELDS:
        compare.exact(name, name, label=name)
    n, ids = len(data), data.index.to_numpy()
    out = np.empty((len(keys), len(STRING_FIELDS) + len(EXACT_FIELDS)), dtype=np.int8)
    for start in range(0, len(keys), chunk):
        part = keys[start:start + chunk]
        pairs = pd.MultiIndex.from_arrays([ids[part // n], ids[part % n]])
        out[start:start + len(part)] = compare.compute(pairs, data).to_numpy(dtype=np.int8)
    return out


def ecm_matches(vectors: npt.NDArray[np.int8], *, train_pairs: int, chunk: int, seed: int
                ) -> tuple[npt.NDArray[np.bool_], int]:
    """ECM fitted on all vectors or a uniform sample of ``train_pairs``; returns which pairs
    it classes as matches and how many pairs it was fitted on."""
    import recordlinkage

    columns = [*STRING_FIELDS, *EXACT_FIELDS]
    if len(vectors) > train_pairs:
        rows = np.sort(np.random.default_rng(seed).choice(len(vectors), train_pairs,
                                                           replace=False))
        sample = vectors[rows]
    else:
        sample = vectors
    classifier = recordlinkage.ECMClassifier(binarize=None)
    classifier.fit(pd.DataFrame(sample, columns=columns))
    matches = np.zeros(len(vectors), dtype=bool)
    for start in range(0, len(vectors), chunk):
        part = pd.DataFrame(vectors[start:start + chunk], columns=columns,
                            index=pd.RangeIndex(start, min(start + chunk, len(vectors))))
        matches[np.asarray(classifier.predict(part), dtype=np.int64)] = True
    return matches, len(sample)


def baseline_scores(frame: pd.DataFrame, true_pairs: set[tuple[int, int]], *, timeout: float,
                    chunk: int = 1_000_000, train_pairs: int = 5_000_000, seed: int = 0
                    ) -> dict[str, Any]:
    """The baseline's pair scores against ``true_pairs``, its compared pairs and the share
    of true pairs among them; stops after ``timeout`` seconds."""
    from kithkin.identity import evaluation

    def stop(*_: Any) -> None:
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(int(timeout))
    started = time.perf_counter()
    try:
        data = frame.set_index("unique_id")
        keys = candidate_keys(data)
        vectors = comparison_vectors(data, keys, chunk=chunk)
        matches, fitted_on = ecm_matches(vectors, train_pairs=train_pairs, chunk=chunk,
                                         seed=seed)
    except TimeoutError:
        return {"error": f"stopped after {timeout:.0f} s"}
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    n, ids = len(data), data.index.to_numpy()
    found = keys[matches]
    pairs = zip(ids[found // n].tolist(), ids[found % n].tolist(), strict=True)
    scores = evaluation.scores_against(pairs, true_pairs)
    position = pd.Series(np.arange(n, dtype=np.int64), index=data.index)
    truth = np.array(sorted(true_pairs), dtype=np.int64).reshape(-1, 2)
    low = position.reindex(truth[:, 0]).to_numpy()
    high = position.reindex(truth[:, 1]).to_numpy()
    true_keys = np.minimum(low, high) * n + np.maximum(low, high)
    recall = float(np.isin(true_keys, keys).mean()) if len(true_keys) else 1.0
    return {"seconds": time.perf_counter() - started, "compared": len(keys),
            "blocking_recall": recall, "trained_on": fitted_on, "pairs": scores.__dict__}
