"""Playbook evaluation over a million customers after a refresh (SQLite store, the
embedded default). Target: under 10 s.

The store is the refresh benchmark's (benchmarks/refresh.py: ``--customers`` customers,
``--transactions`` orders over three years, cached in benchmarks/data/). Every level is
served by one stress playbook with the triggers this store holds data for: purchases
(right after, 3 days after, 90 days after), lapse by the customer's own time between
orders and by P(alive), anniversaries, and stage moves; 10 % holdout. Timed in one run:

1. the reference: ``kithkin refresh`` of the store (its own steps), whose last step is
   the playbooks run after the refresh (first run: every due occurrence is new, so it
   records the firings and inserts the tasks and messages);
2. a dry run right after (evaluation only: what a run would create);
3. a repeat run (everything already acted on: evaluation plus the dedupe check, no
   inserts), the steady state of a daily refresh.

Usage: .venv/bin/python benchmarks/playbooks.py [--quick] [--customers N] [--transactions N]
[--purchase-model auto|bg_nbd|mbg_nbd|pareto_nbd] (the refresh's, as ``kithkin refresh
--purchase-model``; wrap in ``flock /tmp/kithkin-bench.lock`` so timings never overlap
another benchmark). ``--keep`` keeps the refreshed work copy; ``--reuse`` then skips the
refresh: it removes the playbooks' writes from that copy and times the three runs again
(the first one as the refresh runs it, from the refresh's snapshot), printing them only.
Each run is appended (with its date) to results/playbooks.md at the default 1M size,
results/playbooks_quick.md with ``--quick``, results/playbooks_<customers>_<orders>.md
at another size: no run overwrites another's figures.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import refresh as refresh_bench

STRESS = """[playbook]
name = "bench_all"
level = "accountable"
title = "Every trigger the benchmark store has data for"

[[rules]]
name = "after_purchase"
trigger = "purchase"
window_days = 7
[[rules.actions]]
action = "message"
template = "after_purchase_reactive"

[[rules]]
name = "checkin"
trigger = "purchase"
delay_days = 3
window_days = 14
[[rules.actions]]
action = "message"
template = "checkin_accountable"

[[rules]]
name = "satisfaction"
trigger = "purchase"
delay_days = 90
window_days = 30
[[rules.actions]]
action = "message"
template = "satisfaction_proactive"

[[rules]]
name = "gone_quiet"
trigger = "lapse"
factor = 1.5
window_days = 30
[[rules.actions]]
action = "task"
title = "Personal call: the customer has gone quiet"
team = "account_managers"

[[rules]]
name = "unlikely_alive"
trigger = "lapse"
p_alive_below = 0.2
window_days = 30
[[rules.actions]]
action = "message"
template = "winback"

[[rules]]
name = "anniversary"
trigger = "anniversary"
window_days = 30
[[rules.actions]]
action = "message"
template = "satisfaction_proactive"

[[rules]]
name = "moved_down"
trigger = "stage_change"
model = "journey"
direction = "down"
[[rules.actions]]
action = "task"
title = "Moved down: get in touch"
"""
LEVELS = "holdout_share = 0.10\n[levels]\n" + "".join(
    f'{level} = "bench_all"\n' for level in
    ("basic", "reactive", "accountable", "proactive", "partnership"))


HEADER = ("# Benchmark: playbook evaluation after a refresh (SQLite store, embedded "
          "default)\n\nEach run of benchmarks/playbooks.py is appended below, newest "
          "last.\n\n")


def results_name(args: argparse.Namespace) -> str:
    """Where a run is appended: the 1M default's file, or one per other size (a quick
    or smaller run never lands among the 1M figures)."""
    if args.quick:
        return "playbooks_quick.md"
    if (args.customers, args.transactions) == (1_000_000, 10_000_000):
        return "playbooks.md"
    return f"playbooks_{args.customers}_{args.transactions}.md"


def undo_playbooks(path: Path) -> None:
    """Remove what the playbooks wrote (firings, runs, their tasks and messages): the
    store as the refresh left it before its playbooks step, for ``--reuse``. The firings'
    table is made again from the code's model, so a work copy kept before a change of
    its schema times the changed one."""
    from sqlalchemy import create_engine

    from kithkin.database import bulk, registry  # noqa: F401 (the tables it refers to)
    from kithkin.playbooks.models import PlaybookFiring

    conn = sqlite3.connect(path)
    for statement in ("DELETE FROM message WHERE reason LIKE 'playbook:%'",
                      "DELETE FROM task WHERE reason LIKE 'playbook:%'",
                      "DROP TABLE IF EXISTS playbook_firing", "DELETE FROM playbook_run"):
        conn.execute(statement)
    conn.commit()
    conn.close()
    engine = create_engine(f"sqlite:///{path}")
    bulk.table_of(PlaybookFiring).create(engine)
    engine.dispose()


def first_run(home: Path, path: Path) -> Any:
    """The playbooks step alone, as the refresh runs it (orders from the snapshot the
    refresh took), on a store the refresh already refreshed."""
    from kithkin.analytics.engine import open_duckdb
    from kithkin.playbooks import service

    settings, engine = refresh_bench.open_store(home, path)
    source = open_duckdb(settings.snapshot_dir)
    started = time.perf_counter()
    report = service.run(engine=engine, settings=settings, as_of=refresh_bench.AS_OF,
                         mode="refresh", source=source)
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="20k customers, 200k orders")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--purchase-model", default="auto",
                        help="the refresh's purchase model (kithkin refresh --purchase-model)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the refreshed work copy (for --reuse)")
    parser.add_argument("--reuse", action="store_true",
                        help="no refresh: undo the playbooks' writes on the work copy "
                             "--keep left and time only the playbook runs (printed, "
                             "no results file)")
    args = parser.parse_args()
    if args.quick:
        args.customers, args.transactions = 20_000, 200_000
    data, results = refresh_bench.DATA, refresh_bench.RESULTS
    data.mkdir(parents=True, exist_ok=True)
    results.mkdir(parents=True, exist_ok=True)
    name = refresh_bench.cached_name(args)
    cached, home = data / f"{name}.db", data / f"playbooks-{name}-home"
    path = data / f"playbooks-{name}-work.db"
    from kithkin.analytics.fitting import ModelOptions
    from kithkin.database.core import session_scope
    from kithkin.playbooks import service

    load_before = refresh_bench.machine()
    if args.reuse:
        if not path.exists():
            raise SystemExit(f"no refreshed work copy {path.name}: run once with --keep")
        undo_playbooks(path)
        step, first = first_run(home, path)
        print(f"first run {step:.2f}s {first.timings} {first.totals}", file=sys.stderr)
    else:
        generated = None
        if not cached.exists():
            print(f"generating {cached.name} ...", file=sys.stderr)
            generated = refresh_bench.generate(cached, customers=args.customers,
                                               transactions=args.transactions,
                                               seed=args.seed)
        shutil.rmtree(home, ignore_errors=True)
        (home / "playbooks").mkdir(parents=True)
        (home / "playbooks" / "bench_all.toml").write_text(STRESS, encoding="utf-8")
        (home / "playbooks.toml").write_text(LEVELS, encoding="utf-8")
        shutil.copyfile(cached, path)
        refresh_total, timings, result = refresh_bench.refresh_once(
            home, path, ModelOptions(purchase_model=args.purchase_model))
        print(f"refresh {refresh_total:.1f}s {timings}", file=sys.stderr)
        first = result.playbooks
        if first is None:
            raise SystemExit(f"the playbooks did not run after the refresh: "
                             f"{result.playbooks_error}")
        step = timings["playbooks"]
    settings, engine = refresh_bench.open_store(home, path)
    started = time.perf_counter()
    with session_scope(engine) as session:
        preview = service.dry_run(session=session, settings=settings,
                                  as_of=refresh_bench.AS_OF)
    dry_seconds = time.perf_counter() - started
    started = time.perf_counter()
    repeat = service.run(engine=engine, settings=settings, as_of=refresh_bench.AS_OF,
                         mode="manual")
    repeat_seconds = time.perf_counter() - started
    engine.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.reuse:
        print(f"playbooks step {step:.2f}s, dry run {dry_seconds:.2f}s "
              f"({preview.totals['new']:,} new), repeat {repeat_seconds:.2f}s "
              f"{repeat.timings} ({repeat.totals['new']:,} new); peak RSS {peak_mb:,.0f} MiB; "
              f"{refresh_bench.machine()}")
        return
    if not args.keep:
        path.unlink()

    served = sum(first.customers_by_level.values())
    totals = first.totals
    rest = refresh_total - step
    skipped: dict[str, int] = {}
    for rule in first.rules:
        for reason, count in rule.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
    verdict = "met" if step < 10 else "NOT met"
    steady = "met" if repeat_seconds < 10 else "NOT met"
    lines = [
        f"## Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"**The playbooks step after the refresh took {step:.2f} s, {step / rest:.3f}x the "
        f"{rest:.1f} s of the refresh steps before it in the same run (target under 10 s: "
        f"{verdict}); the repeat run (steady state) {repeat_seconds:.2f} s "
        f"({repeat_seconds / rest:.3f}x; {steady}), the dry run {dry_seconds:.2f} s.**",
        "",
        f"Command: `flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/playbooks.py"
        f"{' --quick' if args.quick else ''}"
        f"{'' if args.purchase_model == 'auto' else ' --purchase-model ' + args.purchase_model}`",
        "",
        f"- machine: {refresh_bench.machine()} (before the run: "
        f"{load_before.rsplit('load', 1)[1]})",
        f"- sizes: {args.customers:,} customers ({served:,} served by a level), "
        f"{args.transactions:,} transactions, as of {refresh_bench.AS_OF}",
        f"- the refresh's purchase model: {args.purchase_model}",
        f"- store generation: {f'{generated:.1f} s' if generated else 'cached'}; "
        f"peak RSS {peak_mb:,.0f} MiB",
        f"- first run (after the refresh): {totals['due']:,} due occurrences, "
        f"{totals['new']:,} firings recorded ({totals['holdout']:,} held out), "
        f"{totals['tasks']:,} tasks and {totals['messages']:,} messages stored; skipped "
        f"(held back on the firing at queue time, or capped): "
        f"{', '.join(f'{n:,} {r}' for r, n in sorted(skipped.items())) or 'none'}",
        f"- repeat run: {repeat.totals['due']:,} due, {repeat.totals['new']:,} new "
        f"(each occurrence acts once); dry run: {preview.totals['new']:,} new",
        "",
        "| measurement | seconds |",
        "|---|---:|",
        f"| reference: the whole refresh (all steps below, playbooks included) | "
        f"{refresh_total:.2f} |",
    ]
    lines += [f"| refresh step: {name} | {seconds:.2f} |" for name, seconds in timings.items()]
    lines += [
        f"| **playbooks after the refresh (evaluate + record + insert actions)** | "
        f"**{step:.2f}** |",
        f"| of which: evaluate (levels, triggers, dedupe join with the recorded firings) | "
        f"{first.timings.get('evaluate', 0.0):.2f} |",
        f"| of which: record the new firings | "
        f"{first.timings.get('record', 0.0):.2f} |",
        f"| of which: act (insert tasks and messages from the firings) | "
        f"{first.timings.get('act', 0.0):.2f} |",
        f"| dry run (evaluation + dedupe join, nothing written) | {dry_seconds:.2f} |",
        f"| repeat run (evaluation + dedupe join, nothing new) | {repeat_seconds:.2f} |",
        f"| of which: evaluate (with the dedupe join) | "
        f"{repeat.timings.get('evaluate', 0.0):.2f} |",
        "",
        "Per rule, first run:",
        "",
        "| rule | due | new | holdout | tasks | messages |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {r.rule} ({r.trigger}) | {r.due:,} | {r.new:,} | {r.holdout:,} | "
              f"{r.tasks:,} | {r.messages:,} |" for r in first.rules]
    lines.append("")
    name = results_name(args)
    refresh_bench.append_result(name, "\n".join(lines), header=HEADER)
    print("\n".join(lines))
    print(f"appended to results/{name}", file=sys.stderr)
    print(f"dry run rules: {len(preview.rules)}", file=sys.stderr)


if __name__ == "__main__":
    main()
