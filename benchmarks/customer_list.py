"""The customer list's filters and sorts on a large store (target: 1M customers).

The customers page (and ``GET /customers``) sorts by CLV, P(alive), name or last order
and filters by stage, value tier, at-risk and account manager, a keyset page at a time.
This loads the dashboard_search benchmark's synthetic customers (same generator, cached
in benchmarks/data/) plus, per customer, one metric row at one refresh (10% with unknown
CLV, P(alive) and last order), a journey stage and a value tier, then times
``kithkin.customers.listing.list_customers`` per case, next to the reference: the plain
id-ordered first page, timed in the same run.

The sorts' three ``customer_metric`` indexes are not free: every refresh writes a block of
one row per customer into them. The second table times writing such a block (insert, and
update in place as a re-run of the same as-of does) into a fresh store with and without
those indexes, alternating, so the price is stated next to what it buys. Run it under
the shared lock:

    flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/customer_list.py
    flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/customer_list.py --quick
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import sqlite3
import sys
import time
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dashboard_search import (  # a sibling script, not a package
    DATA,
    MIGRATIONS_DIR,
    RESULTS,
    build_store,
    timed,
)

AS_OF = date(2026, 1, 1)
STAGES = [("stranger", 0, 0.40), ("acquaintance", 1, 0.30), ("friend", 2, 0.22),
          ("partner", 3, 0.08)]
TIERS = [("most_valuable", 0.2), ("most_growable", 0.2), ("ordinary", 0.55),
         ("below_zero", 0.05)]
CHUNK = 100_000


def add_values(path: Path, customers: int, seed: int = 11) -> None:
    """One refresh's metrics, a journey stage and a value tier for every customer."""
    rng = random.Random(seed)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    stage_names = [s for s, _, _ in STAGES]
    stage_weights = [w for _, _, w in STAGES]
    ranks = {s: r for s, r, _ in STAGES}
    tier_names = [t for t, _ in TIERS]
    tier_weights = [w for _, w in TIERS]
    start = datetime(2023, 1, 1)
    zeros = ", ".join(["0.0"] * 14)
    for low in range(1, customers + 1, CHUNK):
        ids = range(low, min(low + CHUNK, customers + 1))
        metrics, stages, profiles = [], [], []
        for cid in ids:
            unknown = rng.random() < 0.10
            clv = None if unknown else round(rng.lognormvariate(4.5, 1.2), 2)
            p_alive = None if unknown else round(rng.random(), 4)
            last = None if unknown else (
                start + timedelta(minutes=rng.randrange(3 * 365 * 24 * 60))).isoformat(sep=" ")
            metrics.append((AS_OF.isoformat(), cid, 3, clv, p_alive, last))
            stage = rng.choices(stage_names, stage_weights)[0]
            stages.append((cid, stage, ranks[stage]))
            profiles.append((cid, rng.choices(tier_names, tier_weights)[0]))
        connection.executemany(
            "INSERT INTO customer_metric (as_of, customer_id, orders, clv, p_alive,"
            " last_purchase_at) VALUES (?, ?, ?, ?, ?, ?)", metrics)
        connection.executemany(
            "INSERT INTO customer_stage (customer_id, model, stage, rank, since, as_of,"
            " evidence, assigned_at, first_stage, first_rank)"
            f" VALUES (?, 'journey', ?, ?, '{AS_OF}', '{AS_OF}', '{{}}', '{AS_OF}', 'stranger',"
            " 0)", stages)
        connection.executemany(
            "INSERT INTO relationship_profile (customer_id, as_of, health_mutual,"
            " health_interactive, health_iterative, health_ongoing_benefit,"
            " health_behaviour_change, health_unique, health_trust, health_overall,"
            " health_known, bond_financial, bond_social, bond_customization, bond_structural,"
            " switching_barrier, evidence, value_tier, net_margin, potential)"
            f" VALUES (?, '{AS_OF}', {zeros}, '[]', ?, 0.0, 0.0)", profiles)
        connection.commit()
    connection.execute(
        "INSERT INTO metrics_run (as_of, engine, customers, started_at) VALUES (?, 'duckdb', ?,"
        " ?)", (AS_OF.isoformat(), customers, datetime(2026, 1, 1).isoformat(sep=" ")))
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()


REFRESH_CACHE_KIB = 1 << 20
LIST_INDEXES = ("ix_customer_metric_as_of_clv", "ix_customer_metric_as_of_p_alive",
                "ix_customer_metric_as_of_last_purchase")


def write_cost(rows: int, rounds: int = 2) -> list[tuple[str, float, float]]:
    """Seconds to insert, then update in place, one refresh block of ``rows`` metric rows,
    without and with the customer list's indexes (alternating, ``rounds`` times each)."""
    import tempfile

    from kithkin.database.core import build_engine
    from kithkin.database.manage import upgrade

    rng = random.Random(5)
    block = [(AS_OF.isoformat(), cid, 3, rng.lognormvariate(4.5, 1.2), rng.random(),
              (datetime(2023, 1, 1) + timedelta(minutes=rng.randrange(10**6))).isoformat(
                  sep=" ")) for cid in range(1, rows + 1)]
    changed = [(rng.lognormvariate(4.5, 1.2), rng.random(), r[0], r[1]) for r in block]
    timings = []
    for variant in ("without", "with") * rounds:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "kithkin.db"
            engine = build_engine(f"sqlite:///{path}")
            upgrade(engine)
            engine.dispose()
            connection = sqlite3.connect(path)
            connection.execute("PRAGMA foreign_keys=OFF")
            # The page cache `kithkin refresh` gives its metric upsert (staging.page_cache).
            connection.execute(f"PRAGMA cache_size = {-REFRESH_CACHE_KIB}")
            if variant == "without":
                for name in LIST_INDEXES:
                    connection.execute(f"DROP INDEX {name}")
            begin = time.perf_counter()
            connection.executemany(
                "INSERT INTO customer_metric (as_of, customer_id, orders, clv, p_alive,"
                " last_purchase_at) VALUES (?, ?, ?, ?, ?, ?)", block)
            connection.commit()
            inserted = time.perf_counter() - begin
            begin = time.perf_counter()
            connection.executemany("UPDATE customer_metric SET clv = ?, p_alive = ? WHERE"
                                   " as_of = ? AND customer_id = ?", changed)
            connection.commit()
            timings.append((variant, inserted, time.perf_counter() - begin))
            connection.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="20k customers")
    parser.add_argument("--write-rows", type=int, default=300_000,
                        help="rows of the refresh block whose write cost is timed")
    args = parser.parse_args()
    customers = 20_000 if args.quick else args.customers
    DATA.mkdir(parents=True, exist_ok=True)
    schema = hashlib.sha1(b"".join(
        p.read_bytes() for p in sorted((MIGRATIONS_DIR / "versions").glob("*.py")))
    ).hexdigest()[:10]
    for stale in DATA.glob(f"customer_list_{customers}_*.db*"):
        if schema not in stale.name:
            stale.unlink()
    path = DATA / f"customer_list_{customers}_{schema}.db"
    load_seconds = 0.0
    if not path.exists():
        begin = time.perf_counter()
        build_store(path, customers)
        add_values(path, customers)
        load_seconds = time.perf_counter() - begin
    os.environ["KITHKIN_HOME"] = str(DATA / f"customer_list_home_{customers}")
    os.environ["KITHKIN_DATABASE_URL"] = f"sqlite:///{path}"

    from kithkin.customers import listing
    from kithkin.customers.listing import CustomerFilters
    from kithkin.database.core import session_scope

    def page(sort: str, filters: CustomerFilters, after: str | None) -> int:
        with session_scope() as session:  # a fresh session per call, as a request gets
            found = listing.list_customers(session=session, filters=filters, sort=sort,
                                           limit=50, after=after, stage_model="journey")
            return len(found.rows) + len(found.exact)

    def cursor_after(sort: str, filters: CustomerFilters, pages: int) -> str | None:
        after = None
        with session_scope() as session:
            for _ in range(pages):
                after = listing.list_customers(session=session, filters=filters, sort=sort,
                                               limit=1000, after=after,
                                               stage_model="journey").next_cursor
        return after

    journey = partial(CustomerFilters, stage_model="journey")
    cases: list[tuple[str, str, CustomerFilters, int]] = [
        ("reference: by id, first page", "id", CustomerFilters(), 0),
        ("CLV, highest first", "-clv", CustomerFilters(), 0),
        ("CLV, highest first, page after 20,000 rows", "-clv", CustomerFilters(), 20),
        ("CLV, lowest first", "clv", CustomerFilters(), 0),
        ("P(alive), lowest first", "p_alive", CustomerFilters(), 0),
        ("last order, newest first", "-last_order", CustomerFilters(), 0),
        ("name, A to Z", "last_name", CustomerFilters(), 0),
        ("name, page after 20,000 rows", "last_name", CustomerFilters(), 20),
        ("stage friend (22%), CLV highest first", "-clv", journey(stage="friend"), 0),
        ("stage partner (8%), CLV highest first", "-clv", journey(stage="partner"), 0),
        ("at risk, CLV highest first", "-clv", CustomerFilters(at_risk=True), 0),
        ("tier most_valuable, P(alive) lowest first", "p_alive",
         CustomerFilters(tier="most_valuable"), 0),
        ("stage partner + tier below_zero (0.4%), by id", "id",
         journey(stage="partner", tier="below_zero"), 0),
        ("search 'Smi' + stage friend", "id", journey(q="Smi", stage="friend"), 0),
    ]
    results = []
    for label, sort, filters, deep in cases:
        after = cursor_after(sort, filters, deep) if deep else None
        run = partial(page, sort, filters, after)
        shown = run()
        median, worst = timed(run, args.repeat)
        results.append((label, sort, shown, median, worst))
    writes = write_cost(2_000 if args.quick else args.write_rows)
    reference = results[0][3]
    slowest = max(results[1:], key=lambda r: r[3])
    load = os.getloadavg()
    lines = [
        "# Customer list: filters and sorts",
        "",
        f"**Slowest case: {slowest[0]}, {slowest[3]:.1f} ms median, "
        f"{slowest[3] / reference:.1f}x the id-ordered first page ({reference:.1f} ms) "
        f"on {customers:,} customers.**",
        "",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores (nproc), "
        f"Python {platform.python_version()}, load average {load[0]:.2f} / {load[1]:.2f} "
        f"/ {load[2]:.2f} (other engineers share the CPU)",
        f"- store: SQLite, {customers:,} customers, one metric row each at one refresh "
        "(10% unknown CLV/P(alive)/last order), a journey stage and a value tier"
        + (f" (loaded in {load_seconds:.0f} s)" if load_seconds else " (cached file)"),
        f"- {args.repeat} runs per row after one warm-up, a fresh session each; page size 50",
        "- command: `flock /tmp/kithkin-bench.lock .venv/bin/python "
        "benchmarks/customer_list.py" + (" --quick`" if args.quick
                                          else f" --customers {customers}`"),
        "",
        "| case | sort | rows | median ms | max ms | x reference |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for label, sort, shown, median, worst in results:
        lines.append(f"| {label} | `{sort}` | {shown} | {median:.2f} | {worst:.2f} | "
                     f"{median / reference:.1f} |")
    rows_written = 2_000 if args.quick else args.write_rows
    lines += [
        "",
        f"## The price: writing one refresh block of {rows_written:,} metric rows",
        "",
        "Fresh store, alternating runs, the 1 GiB page cache the refresh's metric upsert "
        "uses; the update changes CLV and P(alive) in place.",
        "",
        "| list indexes | insert s | update in place s |",
        "|---|---:|---:|",
    ]
    for variant, inserted, updated in writes:
        lines.append(f"| {variant} | {inserted:.2f} | {updated:.2f} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("customer_list_quick.md" if args.quick else "customer_list.md")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
