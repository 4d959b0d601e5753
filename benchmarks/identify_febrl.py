"""Identity resolution on FEBRL, the public synthetic person registers, beside a baseline.

FEBRL 3 (5,000 records, 2,000 of them duplicates with up to nine errors each) and FEBRL 4
(5,000 originals and 5,000 duplicates) ship inside the ``recordlinkage`` package (no
download). Names, street address, suburb, postcode, state and date of birth; no email or
phone; the national id is left out. kithkin runs its own matching table and Splink model
(``identity.features`` cleaning, ``identity.resolution.score_pairs``, review threshold
0.8); the baseline is recordlinkage's ECM classifier (Fellegi-Sunter by EM, no labels)
with the toolkit's usual blocking (given name, surname, date of birth, postcode) and
binary agreements. Pair precision, recall and F1 against the record ids' true groups.

    .venv/bin/python benchmarks/identify_febrl.py
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _birth(value: Any) -> tuple[date | None, str | None]:
    text = _text(value)
    if text is None:
        return None, None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])), None
    except ValueError:  # day 33, month 13: kept as text, as `kithkin import` does
        return None, text


def kithkin_frame(records: pd.DataFrame) -> pd.DataFrame:
    from kithkin.config import get_settings
    from kithkin.identity import features

    report = features.FieldReport()
    rows = []
    for i, r in enumerate(records.itertuples()):
        dob, raw = _birth(r.date_of_birth)
        street = " ".join(x for x in (_text(r.street_number), _text(r.address_1)) if x)
        rows.append(features.row_features(SimpleNamespace(
            id=i, first_name=_text(r.given_name), last_name=_text(r.surname), email=None,
            email_normalized=None, phone=None, phone_e164=None, country="AU",
            date_of_birth=dob, date_of_birth_raw=raw, address_line=street or None,
            address_line2=_text(r.address_2), postcode=_text(r.postcode),
            city=_text(r.suburb), region=_text(r.state)), report, get_settings()))
    frame = pd.DataFrame.from_records(rows, columns=list(features.MATCH_COLUMNS))
    for name in features.MATCH_COLUMNS[1:]:
        frame[name] = frame[name].astype(object)
    return frame


def truth_clusters(ids: list[str]) -> dict[int, int]:
    """Record position -> its original's number (FEBRL ids read rec-<n>-org/-dup-<k>)."""
    return {position: int(rec_id.split("-")[1]) for position, rec_id in enumerate(ids)}


def scores(predicted: set[tuple[int, int]], clusters: dict[int, int]) -> dict[str, float]:
    from kithkin.identity.evaluation import pair_scores

    found = pair_scores(predicted, clusters)
    return {"precision": found.precision, "recall": found.recall, "f1": found.f1}


def run_kithkin(records: pd.DataFrame, truth: dict[int, int]) -> dict[str, Any]:
    from kithkin.config import get_settings
    from kithkin.identity import resolution

    started = time.perf_counter()
    frame = kithkin_frame(records)
    pairs, report = resolution.score_pairs(frame, settings=get_settings(), threshold=0.8,
                                           retrain=True)
    predicted = set(zip(pairs["customer_id_l"].astype(int), pairs["customer_id_r"].astype(int),
                        strict=True))
    return {**scores(predicted, truth), "seconds": time.perf_counter() - started,
            "notes": report["notes"]}


def run_baseline(records: pd.DataFrame, truth: dict[int, int]) -> dict[str, Any]:
    import recordlinkage

    started = time.perf_counter()
    data = records.reset_index(drop=True)
    index = recordlinkage.Index()
    for key in ("given_name", "surname", "date_of_birth", "postcode"):
        index.block(key)
    candidates = index.index(data)
    compare = recordlinkage.Compare()
    for name in ("given_name", "surname", "address_1"):
        compare.string(name, name, method="jarowinkler", threshold=0.85, label=name)
    for name in ("date_of_birth", "postcode", "suburb", "state", "street_number"):
        compare.exact(name, name, label=name)
    matches = recordlinkage.ECMClassifier(binarize=None).fit_predict(
        compare.compute(candidates, data))
    predicted = {(min(a, b), max(a, b)) for a, b in matches}
    return {**scores(predicted, truth), "seconds": time.perf_counter() - started,
            "compared": len(candidates)}


def main() -> None:
    os.environ.setdefault("KITHKIN_HOME", tempfile.mkdtemp(prefix="kithkin-febrl-"))
    from recordlinkage.datasets import load_febrl3, load_febrl4

    from kithkin.identity.evaluation import pairs_within

    load = os.getloadavg()
    rows = []
    for name, records in (("FEBRL 3", load_febrl3()), ("FEBRL 4", pd.concat(load_febrl4()))):
        truth = truth_clusters(list(records.index))
        records = records.reset_index(drop=True)
        ours, theirs = run_kithkin(records, truth), run_baseline(records, truth)
        true_pairs = len(pairs_within(truth))
        rows.append((name, len(records), true_pairs, ours, theirs))
        print(f"{name}: kithkin F1 {ours['f1']:.4f}, baseline F1 {theirs['f1']:.4f}",
              flush=True)
    lines = [
        "# Identity resolution on FEBRL (public synthetic registers) beside a baseline", "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `{' '.join(sys.argv)}`; "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, load average "
        f"{load[0]:.2f} before.", "",
        (__doc__ or "").split("\n\n")[1].replace("\n", " "), "",
        "| data | records | true pairs | kithkin P | kithkin R | kithkin F1 | kithkin s | "
        "baseline compared | baseline P | baseline R | baseline F1 | baseline s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, n, true_pairs, ours, theirs in rows:
        lines.append(
            f"| {name} | {n:,} | {true_pairs:,} | {ours['precision']:.3f} | "
            f"{ours['recall']:.3f} | **{ours['f1']:.4f}** | {ours['seconds']:.1f} | "
            f"{theirs['compared']:,} | {theirs['precision']:.3f} | {theirs['recall']:.3f} | "
            f"**{theirs['f1']:.4f}** | {theirs['seconds']:.1f} |")
    lines += ["", "kithkin's run notes (FEBRL 4): " + "; ".join(rows[-1][3]["notes"])]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "identify_febrl.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / 'identify_febrl.md'}")


if __name__ == "__main__":
    main()
