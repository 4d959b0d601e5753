"""The refresh's relationships step alone, on benchmarks/refresh.py's store.

``prepare`` copies the cached store of benchmarks/refresh.py (generated first when no
store of that size is cached), enrols the members as it does, and runs the whole
refresh twice as that benchmark does (cold, then 2 % more orders and the same as-of
again), except that the relationships step only keeps its inputs (the metrics block and
the event aggregates, pickled under benchmarks/data/): the store is left with no
relationship rows. ``time`` copies that store and runs the relationships step's
``service.refresh`` on those inputs, cold then warm as the refresh does, printing each
one's seconds, commit seconds and the engine's own sub-timings, and the event
aggregates' seconds on the snapshot (the other part of the refresh's step).

``--digests FILE`` writes a SHA-256 of every stored relationship table after each run
(every column of every row in id order; the run's timings and clock left out), or,
when FILE exists, checks the digests against it: that is how a change proves it stores
exactly what the code before it stored. Usage:

    flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/relationship_steps.py prepare
    flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/relationship_steps.py time \
        [--digests FILE] [--output benchmarks/results/relationship_steps.md]
(``--customers 200000 --transactions 2000000`` for the smaller store.)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import shutil
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

import refresh as bench  # noqa: E402

from kithkin.analytics import engine as analytics_engine  # noqa: E402
from kithkin.analytics import refresh, relationship_features  # noqa: E402
from kithkin.config import Settings  # noqa: E402
from kithkin.database.core import session_scope  # noqa: E402
from kithkin.relationships import service  # noqa: E402

RUNS = ("cold", "warm")
# table -> columns left out of its digest (clocks and timings differ run to run)
DIGESTED = {"customer_stage": (), "stage_change": (), "stage_count": (),
            "relationship_profile": (), "segment_level": ("override_at",),
            "relationship_run": ("timings", "created_at")}




def prepare(args: argparse.Namespace) -> None:
    store, home, inputs = bench.work_paths(args, "relsteps")
    bench.fresh_copy(args, store, home)
    kept: dict[str, Any] = {}

    def keep_inputs(*, engine: Any, settings: Settings, source: Any, result: Any,
                    block: Any, ready: Any = None) -> None:
        if ready is not None:
            ready()  # the metrics block lands first, as before the relationships' writes
        kept[RUNS[len(kept)]] = {
            "block": block,
            "events": relationship_features.compute(source, as_of=result.as_of)}

    refresh.refresh_relationships = keep_inputs  # type: ignore[assignment]
    seconds, _, _ = bench.refresh_once(home, store)
    print(f"cold refresh without relationships: {seconds:.1f} s", file=sys.stderr)
    bench.add_orders(store, share=0.02, customers=args.customers, seed=args.seed)
    seconds, _, _ = bench.refresh_once(home, store)
    print(f"warm refresh without relationships: {seconds:.1f} s", file=sys.stderr)
    with inputs.open("wb") as out:
        pickle.dump(kept, out)
    print(f"prepared {store}, {home}, {inputs}")




def digests(path: Path) -> dict[str, str]:
    found = {}
    with sqlite3.connect(path) as conn:
        for table, left_out in DIGESTED.items():
            names = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")
                     if row[1] not in left_out]
            digest = hashlib.sha256()
            cursor = conn.execute(f"SELECT {', '.join(names)} FROM {table} ORDER BY id")
            while rows := cursor.fetchmany(100_000):
                digest.update(repr(rows).encode())
            found[table] = digest.hexdigest()
    return found


def run_steps(args: argparse.Namespace) -> None:
    store, home, inputs = bench.work_paths(args, "relsteps")
    with inputs.open("rb") as handle:
        kept = pickle.load(handle)
    work = store.with_name(store.stem + "-timing.db")
    shutil.copyfile(store, work)
    settings, engine = bench.open_store(home, work)
    load_before = os.getloadavg()
    lines, found = [], {}
    try:
        source = analytics_engine.open_duckdb(settings.snapshot_dir)
        started = time.perf_counter()
        relationship_features.compute(source, as_of=bench.AS_OF)
        events_seconds = time.perf_counter() - started
        for label in RUNS:
            with session_scope(engine) as session:
                started, cpu = time.perf_counter(), bench.cpu_seconds()
                report = service.refresh(session=session, settings=settings,
                                         as_of=bench.AS_OF, metrics=kept[label]["block"],
                                         events=kept[label]["events"])
                seconds, cpu = time.perf_counter() - started, bench.cpu_seconds() - cpu
                started = time.perf_counter()
            commit = time.perf_counter() - started
            moves = {m.model: (m.new, m.moved_up, m.moved_down) for m in report.models}
            lines.append(f"- {label}: **service.refresh {seconds:.2f} s** (CPU {cpu:.2f} s, "
                         f"staging and reading children included), commit {commit:.2f} s; "
                         f"sub-timings {report.timings}; (new, up, down) per model {moves}")
            print(lines[-1], flush=True)
            if args.digests:
                found[label] = digests(work)
    finally:
        engine.dispose()
        work.unlink()
        for leftover in work.parent.glob(work.name + "-*"):
            leftover.unlink()
    load_after = os.getloadavg()
    check = ""
    if args.digests:
        reference = Path(args.digests)
        if reference.exists():
            expected = json.loads(reference.read_text())
            differ = [f"{label}:{table}" for label in RUNS for table in DIGESTED
                      if expected[label][table] != found[label][table]]
            check = ("stored rows identical to " + reference.name if not differ
                     else f"stored rows DIFFER from {reference.name}: {differ}")
        else:
            reference.write_text(json.dumps(found, indent=1) + "\n")
            check = f"digests written to {reference}"
        print(check)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = [
        f"## {when}: {args.customers:,} customers, {args.transactions:,} orders"
        f"{' - ' + args.label if args.label else ''}", "",
        f"Command: `.venv/bin/python benchmarks/relationship_steps.py time "
        f"--customers {args.customers} --transactions {args.transactions}`; load average "
        f"before {tuple(round(x, 2) for x in load_before)}, after "
        f"{tuple(round(x, 2) for x in load_after)} (nproc {os.cpu_count()}, shared).", "",
        f"- event aggregates on the snapshot (the rest of the refresh's step, not timed "
        f"below): {events_seconds:.2f} s", *lines,
        *([f"- {check}"] if check else []), ""]
    print("\n".join(section))
    if args.output != "-":
        with Path(args.output).open("a") as out:
            out.write("\n" + "\n".join(section))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("prepare", "time"))
    bench.size_arguments(parser)
    parser.add_argument("--digests", default="",
                        help="JSON file of table digests: written when absent, else checked")
    parser.add_argument("--label", default="", help="what code the figures are from")
    parser.add_argument("--output", default="-",
                        help="markdown file the section is appended to (- prints only)")
    args = parser.parse_args()
    (prepare if args.action == "prepare" else run_steps)(args)


if __name__ == "__main__":
    main()
