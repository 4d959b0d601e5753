"""Identity resolution: quality against known duplicates, time and memory at scale.

For each size, customers with hidden duplicate clusters are generated (by default with
``kithkin.simulate`` in its ``--hard`` setting; ``--data synthetic`` uses
``kithkin.identity.synthetic``, which adds households sharing address and phone) and bulk
loaded into a SQLite workspace under benchmarks/data/ (cached between runs). Bulk loading
skips the deterministic email/phone matching of ``kithkin import``, so every duplicate is
left to the probabilistic model. Then, in a fresh subprocess so peak memory is that of
the resolution alone, ``identify`` runs with ``--retrain`` (reads customers, trains u by
sampling and m by EM, scores blocked pairs, stores candidates) and is timed; precision,
recall and F1 of pairs and of clusters (connected components) are computed at the review
and merge thresholds; finally a sample of merges is timed (rolled back).

    .venv/bin/python benchmarks/identify.py                  # 100k and 1M customers
    .venv/bin/python benchmarks/identify.py --quick          # 5k and 20k
    .venv/bin/python benchmarks/identify.py --sizes 50000 --data synthetic
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data" / "identify"
RESULTS = ROOT / "results"
# Part of the cache key: bump whenever the generators change, so old data is not reused
# (2: the simulator draws from ~26k surnames and ~1.3k first names, Zipf-like).
DATA_VERSION = 2


def _workspace(args: argparse.Namespace, size: int) -> Path:
    hard = "hard" if args.hard else "normal"
    return DATA / f"{args.data}-{hard}-{args.duplicates_rate}-{size}-v{DATA_VERSION}"


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "KITHKIN_HOME": str(home / ".kithkin"),
            "KITHKIN_DATABASE_URL": "", "KITHKIN_ANALYTICS_ENGINE": "duckdb"}


def prepare(args: argparse.Namespace, size: int) -> None:
    """Generate and load one data set (skipped when the workspace is complete)."""
    from kithkin.database.core import get_engine
    from kithkin.database.manage import upgrade
    from kithkin.identity import synthetic

    home = _workspace(args, size)
    if (home / "ready").exists():
        return
    if home.exists():  # an interrupted preparation: start again
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    if args.data == "simulate":
        from kithkin.simulate.service import simulate_business

        summary = simulate_business(
            customers=size, years=0.1, seed=args.seed, out_dir=home / "sim", fmt="parquet",
            duplicates_rate=args.duplicates_rate, hard=args.hard, prospects_rate=0.0,
        )
        customers = pd.read_parquet(summary.files["customers"])
        truth = pd.read_parquet(summary.files["truth/duplicate_clusters"])
    else:
        customers, truth = synthetic.generate(persons=size, duplicates_rate=args.duplicates_rate,
                                              hard=args.hard, seed=args.seed)
    truth.to_parquet(home / "truth.parquet")
    engine = get_engine()
    upgrade(engine)
    synthetic.load_customers(engine, customers)
    (home / "ready").write_text(f"{len(customers)} customers\n")


def measure(args: argparse.Namespace, size: int) -> dict[str, Any]:
    """Time ``identify`` and score it; runs in its own process (peak RSS is its own)."""
    from sqlalchemy import select

    from kithkin.config import get_settings
    from kithkin.database.core import session_factory
    from kithkin.identity import evaluation
    from kithkin.identity import service as identity_service
    from kithkin.identity.models import DuplicateCandidate

    home = _workspace(args, size)
    truth = pd.read_parquet(home / "truth.parquet")
    session = session_factory()()
    try:
        started = time.perf_counter()
        run = identity_service.identify(
            session=session, settings=get_settings(), threshold_review=args.threshold_review,
            threshold_merge=args.threshold_merge, retrain=True, auto_merge=False,
        )
        session.commit()
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        clusters = evaluation.truth_clusters(session=session, truth=truth)
        scored = session.execute(select(
            DuplicateCandidate.id, DuplicateCandidate.customer_id_l,
            DuplicateCandidate.customer_id_r, DuplicateCandidate.match_probability,
        ).where(DuplicateCandidate.run_id == run.id)).all()
        quality = {}
        for name, threshold in (("review", args.threshold_review),
                                ("merge", args.threshold_merge)):
            pairs = [(a, b) for _, a, b, p in scored if p >= threshold]
            pair = evaluation.pair_scores(pairs, clusters)
            components, exact = evaluation.cluster_scores(pairs, clusters)
            quality[name] = {"threshold": threshold, "pairs": pair.__dict__,
                             "components": components.__dict__, "clusters": exact.__dict__}
        sure = sorted(((p, i) for i, _, _, p in scored if p >= args.threshold_merge),
                      reverse=True)[: args.merges]
        merge_started = time.perf_counter()
        merged = 0
        for _, candidate_id in sure:
            try:
                identity_service.merge_candidate(session=session, settings=get_settings(),
                                                 candidate_id=candidate_id, actor="benchmark")
                merged += 1
            except Exception:
                continue
        merge_seconds = time.perf_counter() - merge_started
        session.rollback()
        return {
            "size": size, "records": run.records, "seconds": seconds, "peak_rss_mb": peak_mb,
            "candidates": run.candidates, "report": run.report, "quality": quality,
            "merges": merged, "merge_seconds": merge_seconds,
        }
    finally:
        session.close()


def _machine() -> dict[str, Any]:
    import duckdb
    import splink

    return {"nproc": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "splink": splink.__version__,
            "duckdb": duckdb.__version__,
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def write_markdown(args: argparse.Namespace, rows: list[dict[str, Any]],
                   load: tuple[tuple[float, ...], tuple[float, ...]]) -> Path:
    machine = _machine()
    lines = [
        "# Identity resolution benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `{' '.join(sys.argv)}`.",
        "",
        f"Machine: {machine['nproc']} cores, {machine['memory_gb']} GB, {machine['platform']}; "
        f"Python {machine['python']}, Splink {machine['splink']}, DuckDB {machine['duckdb']}. "
        f"Load average before {load[0][0]:.2f} / {load[0][1]:.2f} / {load[0][2]:.2f}, "
        f"after {load[1][0]:.2f} / {load[1][1]:.2f} / {load[1][2]:.2f} "
        "(other engineers share the CPU).",
        "",
        f"Data: `{args.data}`{' hard' if args.hard else ''}, duplicates rate "
        f"{args.duplicates_rate}, seed {args.seed}; bulk-loaded into SQLite (no "
        "deterministic matching on import, so every duplicate is left to the model). "
        "`identify --retrain --no-auto-merge`: read customers, train (u by random "
        "sampling, m by EM), score blocked pairs, store candidates.",
        "",
        "## Time and memory",
        "",
        "| records | identify (s) | records/s | peak RSS (MB) | pairs stored | "
        "read (s) | train + score (s) | merges timed | merges/s | load avg after |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        rep = r["report"] or {}
        rate = r["merges"] / r["merge_seconds"] if r["merge_seconds"] else 0.0
        lines.append(
            f"| {r['records']:,} | {r['seconds']:.1f} | {r['records'] / r['seconds']:,.0f} | "
            f"{r['peak_rss_mb']:,.0f} | {r['candidates']:,} | {rep.get('load_seconds', 0):.1f} "
            f"| {rep.get('score_seconds', 0):.1f} | {r['merges']} | {rate:.1f} "
            f"| {r.get('load_average', [0.0])[0]:.1f} |"
        )
    lines += [
        "",
        "## Quality (precision / recall / F1)",
        "",
        "Pairs: scored pairs at the threshold against true duplicate pairs. Components: "
        "connected components at the threshold (what merging produces), pairwise. "
        "Clusters: components exactly equal to a true cluster.",
        "",
        "| records | threshold | pairs P | pairs R | pairs F1 | components F1 | "
        "clusters P | clusters R | clusters F1 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        for q in r["quality"].values():
            p, c, k = q["pairs"], q["components"], q["clusters"]
            lines.append(
                f"| {r['records']:,} | {q['threshold']} | {_pct(p['precision'])} | "
                f"{_pct(p['recall'])} | {_pct(p['f1'])} | {_pct(c['f1'])} | "
                f"{_pct(k['precision'])} | {_pct(k['recall'])} | {_pct(k['f1'])} |"
            )
    lines += ["", "Field problems reported by the run (not counted as evidence):", ""]
    for r in rows:
        fields = (r["report"] or {}).get("fields", {})
        lines.append(f"- {r['records']:,} records: " + ", ".join(
            f"{k.replace('_', ' ')} {v:,}" for k, v in sorted(fields.items())))
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if not args.quick and args.data == "simulate" else f"-{args.data}" + (
        "-quick" if args.quick else "")
    path = RESULTS / f"identify{suffix}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000",
                        help="Comma-separated numbers of persons.")
    parser.add_argument("--quick", action="store_true", help="Sizes 5,000 and 20,000.")
    parser.add_argument("--data", choices=("simulate", "synthetic"), default="simulate")
    parser.add_argument("--hard", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--duplicates-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threshold-review", type=float, default=0.8)
    parser.add_argument("--threshold-merge", type=float, default=0.99)
    parser.add_argument("--merges", type=int, default=300, help="Merges to time.")
    parser.add_argument("--reuse", action="store_true",
                        help="Reuse measurements saved by an earlier run of the same setup.")
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare is not None:
        prepare(args, args.prepare)
        return
    if args.measure is not None:
        print(json.dumps(measure(args, args.measure), default=str))
        return
    sizes = [5_000, 20_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    passthrough = [f"--data={args.data}", "--hard" if args.hard else "--no-hard",
                   f"--duplicates-rate={args.duplicates_rate}", f"--seed={args.seed}",
                   f"--threshold-review={args.threshold_review}",
                   f"--threshold-merge={args.threshold_merge}", f"--merges={args.merges}"]
    load_before = os.getloadavg()
    rows = []
    for size in sizes:
        saved = _workspace(args, size) / "result.json"
        if args.reuse and saved.exists():
            rows.append(json.loads(saved.read_text()))
            print(f"[{size:,}] reusing {saved}", flush=True)
            continue
        env = _env(_workspace(args, size))
        print(f"[{size:,}] preparing data ...", flush=True)
        subprocess.run([sys.executable, __file__, f"--prepare={size}", *passthrough],
                       env=env, check=True)
        print(f"[{size:,}] identify ...", flush=True)
        out = subprocess.run([sys.executable, __file__, f"--measure={size}", *passthrough],
                             env=env, check=True, capture_output=True, text=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["load_average"] = os.getloadavg()
        saved.write_text(json.dumps(row))
        rows.append(row)
        review = row["quality"]["review"]["pairs"]
        print(f"[{size:,}] {row['seconds']:.1f} s, peak {row['peak_rss_mb']:,.0f} MB, "
              f"pairs F1 {review['f1']:.3f} (P {review['precision']:.3f}, "
              f"R {review['recall']:.3f})", flush=True)
        write_markdown(args, rows, (load_before, os.getloadavg()))  # kept after each size
    print(f"wrote {write_markdown(args, rows, (load_before, os.getloadavg()))}")


if __name__ == "__main__":
    main()
