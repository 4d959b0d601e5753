"""Would an index on ``transaction.ordered_at`` pay? The playbooks' purchase rules read
the orders of a date range; outside a refresh (``kithkin playbooks run``, dry runs)
that read goes to the store, which without such an index scans every order.

On the refreshed work copy ``benchmarks/playbooks.py --keep`` leaves (1M customers, 10M
orders): the read as a run does it (ADBC, the stress playbook's span), without and with
the index; the index's build over every order (what a bulk import, which rebuilds its
secondary indexes, would pay once more); appending 200k orders in date order without
and with it (rolled back). Printed, and written to
benchmarks/results/playbooks_order_index.md. Wrap in ``flock /tmp/kithkin-bench.lock``.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import refresh as refresh_bench


def main() -> None:
    from sqlalchemy.orm import Session

    from kithkin.database import bulk
    from kithkin.playbooks import triggers
    from kithkin.playbooks.workspace import active_playbooks, load_config

    name = refresh_bench.cached_name(argparse.Namespace(
        customers=1_000_000, transactions=10_000_000, seed=7))
    home = refresh_bench.DATA / f"playbooks-{name}-home"
    path = refresh_bench.DATA / f"playbooks-{name}-work.db"
    if not path.exists():
        raise SystemExit(f"no {path.name}: run benchmarks/playbooks.py --keep first")
    _, engine = refresh_bench.open_store(home, path)
    config = load_config(home=home)
    rules = [r for b in active_playbooks(home=home, config=config).values() for r in b.rules]
    load = refresh_bench.machine()
    figures: dict[str, float] = {}
    rows_read = 0

    def read(label: str) -> None:
        nonlocal rows_read
        with engine.connect() as conn:
            facts = triggers.Facts(Session(bind=conn), refresh_bench.AS_OF, rules)
            started = time.perf_counter()
            rows = bulk.select_to_arrow(conn, facts.purchases_query(),
                                        expected_rows=1_000_000)
            figures[f"read the span's orders, {label}"] = time.perf_counter() - started
            rows_read = rows.num_rows

    raw = sqlite3.connect(path)
    raw.execute("DROP INDEX IF EXISTS ix_transaction_ordered_at")
    raw.commit()
    read("no index")
    started = time.perf_counter()
    raw.execute("PRAGMA threads = 2")
    raw.execute("PRAGMA cache_size = -16384")
    raw.execute('CREATE INDEX ix_transaction_ordered_at ON "transaction" (ordered_at)')
    raw.commit()
    figures["build the index over every order"] = time.perf_counter() - started
    read("with the index")
    latest = raw.execute(
        'SELECT source, order_id, customer_id, ordered_at, amount, cost, discount, created_at '
        'FROM "transaction" ORDER BY id DESC LIMIT 200000').fetchall()
    again = [("again", *row[1:]) for row in reversed(latest)]
    for label in ("warm-up", "with the index", "no index"):
        if label == "no index":
            raw.execute("DROP INDEX ix_transaction_ordered_at")
            raw.commit()
        started = time.perf_counter()
        raw.executemany('INSERT INTO "transaction" (source, order_id, customer_id, ordered_at, '
                        'amount, cost, discount, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                        again)
        if label != "warm-up":  # the first append reads the table's end into the cache
            figures[f"append 200k orders, {label}"] = time.perf_counter() - started
        raw.rollback()
    raw.close()
    lines = ["# Benchmark: an index on transaction.ordered_at for the playbooks' order read",
             "", "Command: `flock /tmp/kithkin-bench.lock .venv/bin/python "
             "benchmarks/playbooks_order_index.py` (after `benchmarks/playbooks.py --keep`)",
             "", f"- machine: {refresh_bench.machine()} (before: {load.rsplit('load', 1)[1]})",
             f"- the span's orders: {rows_read:,} of 10,000,000", "",
             "| measurement | seconds |", "|---|---:|"]
    lines += [f"| {label} | {seconds:.2f} |" for label, seconds in figures.items()]
    lines.append("")
    out = refresh_bench.RESULTS / "playbooks_order_index.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
