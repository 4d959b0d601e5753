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
DATA_VERSION = 4  # 3: register errors in hard mode, region and second address line;
# 4: hard mode places people in ~9,700 towns of Zipf sizes with postcodes nested in towns


def _workspace(args: argparse.Namespace, size: int) -> Path:
    hard = "hard" if args.hard else "normal"
    contact = "" if args.contact else "-nocontact"
    seed = "" if args.seed == 1 else f"-seed{args.seed}"  # seed 1 keeps the old cache names
    return DATA / (f"{args.data}-{hard}{contact}-{args.duplicates_rate}-{size}{seed}"
                   f"-v{DATA_VERSION}")


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
    if not args.contact:  # registers without email or phone: names, dates, addresses only
        customers["email"] = None
        customers["phone"] = None
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
    from kithkin.identity import evaluation, features
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
        true_pairs = evaluation.pairs_within(clusters)
        scored = session.execute(select(
            DuplicateCandidate.id, DuplicateCandidate.customer_id_l,
            DuplicateCandidate.customer_id_r, DuplicateCandidate.match_probability,
        ).where(DuplicateCandidate.run_id == run.id)).all()
        quality = {}
        for name, threshold in (("review", args.threshold_review),
                                ("merge", args.threshold_merge)):
            pairs = [(a, b) for _, a, b, p in scored if p >= threshold]
            pair = evaluation.scores_against(pairs, true_pairs)
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
        frame, _ = features.load_match_table(session=session, settings=get_settings())
        blocking = blocking_figures(frame, true_pairs)
        review = {(a, b) for _, a, b, p in scored if p >= args.threshold_review}
        blocking["evidence"] = evidence_split(frame, true_pairs, review)
        baseline = (limited_baseline(frame, true_pairs, timeout=args.baseline_timeout,
                                     memory_gb=args.baseline_memory_gb)
                    if args.baseline else None)
        return {
            "blocking": blocking, "baseline": baseline,
            "size": size, "records": run.records, "seconds": seconds, "peak_rss_mb": peak_mb,
            "candidates": run.candidates, "report": run.report, "quality": quality,
            "merges": merged, "merge_seconds": merge_seconds,
        }
    finally:
        session.close()


def blocking_figures(frame: pd.DataFrame, true_pairs: set[tuple[int, int]]
                     ) -> dict[str, Any]:
    """Distinct pairs the blocking rules compare, per record, and the true pairs among them;
    and each rule's pairs per record (a rule whose share grows with the register's size
    is one whose blocks grow with it)."""
    import duckdb

    from kithkin.identity.resolution import blocking_conditions

    con = duckdb.connect()
    con.register("f", frame)
    con.register("truth", pd.DataFrame(sorted(true_pairs), columns=["a", "b"]))
    conditions = blocking_conditions()
    joins = [
        f"SELECT l.unique_id AS a, r.unique_id AS b, {i} AS rule FROM f l JOIN f r "
        f"ON ({condition}) AND l.unique_id < r.unique_id"
        for i, condition in enumerate(conditions)
    ]
    con.execute(f"CREATE TABLE hits AS {' UNION ALL '.join(joins)}")
    con.execute("CREATE TABLE compared AS SELECT DISTINCT a, b FROM hits")
    compared = con.execute("SELECT count(*) FROM compared").fetchone()[0]  # type: ignore[index]
    found, actual = con.execute(
        "SELECT count(c.a), count(*) FROM truth t LEFT JOIN compared c "
        "ON c.a = t.a AND c.b = t.b").fetchone()  # type: ignore[misc]
    records = max(len(frame), 1)
    rules = {conditions[i]: n / records
             for i, n in con.execute("SELECT rule, count(*) FROM hits GROUP BY rule").fetchall()}
    return {"compared": int(compared), "per_record": compared / records,
            "true_pairs": int(actual), "recall": found / actual if actual else 1.0,
            "rules": rules}


def evidence_split(frame: pd.DataFrame, true_pairs: set[tuple[int, int]],
                   found: set[tuple[int, int]]) -> dict[str, Any]:
    """True pairs whose two records share nothing but names and town, and recall on them
    and on the rest.

    "Nothing but": no birth dates that agree (equal, one edit, or the same year with the
    same month or day), no address, no postcode within one edit, no second address line,
    no email, no phone. Such a pair is told from two namesakes of one town by its names
    alone, and the hard simulator makes many (a duplicate drops its date of birth 60 % of
    the time and its address or postcode 30 %); the split shows how much of the missing
    recall they are.
    """
    import duckdb

    con = duckdb.connect()
    con.register("f", frame)
    con.register("truth", pd.DataFrame(sorted(true_pairs), columns=["a", "b"]))
    thin = {(int(a), int(b)) for a, b in con.execute(
        "SELECT t.a, t.b FROM truth t JOIN f l ON l.unique_id = t.a "
        "JOIN f r ON r.unique_id = t.b WHERE NOT coalesce("
        "damerau_levenshtein(l.dob, r.dob) <= 1 OR (substr(l.dob, 1, 4) = substr(r.dob, 1, 4) "
        "AND (substr(l.dob, 6, 2) = substr(r.dob, 6, 2) "
        "OR substr(l.dob, 9, 2) = substr(r.dob, 9, 2))) "
        "OR l.address = r.address OR damerau_levenshtein(l.postcode, r.postcode) <= 1 "
        "OR l.address2 = r.address2 OR l.email = r.email OR l.phone = r.phone, FALSE)"
    ).fetchall()}
    rest = true_pairs - thin

    def recall(pairs: set[tuple[int, int]]) -> float:
        return len(pairs & found) / len(pairs) if pairs else 1.0

    return {"thin_share": len(thin) / len(true_pairs) if true_pairs else 0.0,
            "thin_recall": recall(thin), "rest_recall": recall(rest)}


def limited_baseline(frame: pd.DataFrame, true_pairs: set[tuple[int, int]], *, timeout: float,
                     memory_gb: float) -> dict[str, Any]:
    """:func:`baseline_scores` in a forked process allowed ``memory_gb`` more address space
    than this one (other jobs share the machine); it runs in pieces
    (benchmarks/identify_baseline.py) so that a million records fit."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def run() -> None:
        status = Path("/proc/self/status").read_text()
        used = int(next(line.split()[1] for line in status.splitlines()
                        if line.startswith("VmSize:"))) * 1024
        cap = used + int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        started = time.perf_counter()
        from identify_baseline import baseline_scores  # this script's own folder

        try:
            send.send(baseline_scores(frame, true_pairs, timeout=timeout))
        except MemoryError:
            send.send({"error": f"stopped: over {memory_gb:g} GB after "
                                f"{time.perf_counter() - started:.0f} s"})
        except Exception as exc:  # reported in the table rather than losing the run
            send.send({"error": f"failed: {type(exc).__name__}"})

    process = context.Process(target=run)
    process.start()
    process.join()
    if receive.poll():
        return dict(receive.recv())
    return {"error": f"baseline process ended with code {process.exitcode} "
                     f"(allowed {memory_gb:g} GB more)"}


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
    lines += [
        "",
        "## Blocking and the library baseline",
        "",
        "Blocking: distinct pairs the prediction blocking rules compare, per record, and the "
        "share of true duplicate pairs among them (an upper bound on recall). Baseline: "
        "recordlinkage's ECM classifier (Fellegi-Sunter, EM, no labels) on the same records, "
        "with that toolkit's usual blocking (postcode, date of birth, sorted neighbourhood on "
        "the last name); the same blocking and agreements are counted per agreement pattern "
        "in DuckDB (benchmarks/identify_baseline.py: ECM classes a whole pattern at once) and "
        "the toolkit's ECM is fitted on a uniform sample of 5 million pairs where there are "
        "more; kithkin's pair F1 at the review threshold beside it.",
        "",
        "| records | compared pairs | per record | blocking recall | kithkin pairs F1 | "
        "baseline compared | baseline blocking recall | baseline P | baseline R | "
        "baseline F1 | baseline s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        b, base = r.get("blocking") or {}, r.get("baseline") or {}
        ours = r["quality"]["review"]["pairs"]["f1"]
        if base.get("pairs"):
            bp = base["pairs"]
            baseline = (f"{base['compared']:,} | {_pct(base['blocking_recall'])} | "
                        f"{_pct(bp['precision'])} | {_pct(bp['recall'])} | {_pct(bp['f1'])} | "
                        f"{base['seconds']:.0f}")
        else:
            baseline = f"{base.get('error', 'not run')} | | | | |"
        lines.append(f"| {r['records']:,} | {b.get('compared', 0):,} | "
                     f"{b.get('per_record', 0):.2f} | {_pct(b.get('recall', 0))} | "
                     f"{_pct(ours)} | {baseline} |")
    lines += [
        "",
        "Blocking rules making more than 0.1 pairs per record at any size (pairs per record; "
        "a pair met by several rules counts for each):",
        "",
        "| rule | " + " | ".join(f"{r['records']:,}" for r in rows) + " |",
        "|---|" + "---:|" * len(rows),
    ]
    per_rule = [(r.get("blocking") or {}).get("rules") or {} for r in rows]
    for rule in sorted({k for p in per_rule for k, v in p.items() if v > 0.1},
                       key=lambda k: -max(p.get(k, 0.0) for p in per_rule)):
        lines.append(f"| `{rule}` | " + " | ".join(f"{p.get(rule, 0.0):.2f}" for p in per_rule)
                     + " |")
    lines += [
        "",
        "## Pairs with only names and town in common",
        "",
        " ".join((evidence_split.__doc__ or "").split("\n\n")[1].split()),
        "",
        "| records | share of true pairs | kithkin recall on them | kithkin recall on the "
        "rest |",
        "|---:|---:|---:|---:|",
    ]
    for r in rows:
        e = (r.get("blocking") or {}).get("evidence")
        if e:
            lines.append(f"| {r['records']:,} | {_pct(e['thin_share'])} | "
                         f"{_pct(e['thin_recall'])} | {_pct(e['rest_recall'])} |")
    lines += ["", "Field problems reported by the run (not counted as evidence):", ""]
    for r in rows:
        fields = (r["report"] or {}).get("fields", {})
        lines.append(f"- {r['records']:,} records: " + ", ".join(
            f"{k.replace('_', ' ')} {v:,}" for k, v in sorted(fields.items())))
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if not args.quick and args.data == "simulate" else f"-{args.data}" + (
        "-quick" if args.quick else "")
    suffix += "" if args.contact else "-no-contact"
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
    parser.add_argument("--contact", action=argparse.BooleanOptionalAction, default=True,
                        help="--no-contact: drop every email and phone (a register of names, "
                             "dates and addresses only).")
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                        help="Also run recordlinkage's ECM classifier on the same records.")
    parser.add_argument("--baseline-timeout", type=float, default=1800)
    parser.add_argument("--baseline-memory-gb", type=float, default=8.0,
                        help="Address space the baseline may add (it stops with an error).")
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
                   "--contact" if args.contact else "--no-contact",
                   "--baseline" if args.baseline else "--no-baseline",
                   f"--baseline-timeout={args.baseline_timeout}",
                   f"--baseline-memory-gb={args.baseline_memory_gb}",
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
