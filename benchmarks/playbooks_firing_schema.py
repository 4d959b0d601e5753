"""What each part of ``playbook_firing``'s schema costs when a run records a million
firings (SQLite, the embedded default).

Takes the firings the stress playbook recorded on the work copy (their text key, which
the code no longer stores, built as it was) ``benchmarks/playbooks.py
--keep`` left (1M customers: about a million firings), and records them again, as
:func:`kithkin.playbooks.service.apply` does (:func:`kithkin.database.bulk.insert_new`,
ON CONFLICT DO NOTHING on the table's unique key, in key order, the bulk page cache),
into scratch tables of the same columns that differ in one part each: the text dedupe
key and its unique index, the natural unique key instead, each secondary index, the
foreign-key checks. Each variant is timed insert plus commit (what a run pays), then
dropped. The store's own tables are not touched.

Usage: flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/playbooks_firing_schema.py
[--repeat N] [--only NAME,...]; appends its table to results/playbooks_firing_schema.md.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent))

import refresh as refresh_bench


def _default_sizes() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    refresh_bench.size_arguments(parser)
    return parser.parse_args([])


# the 1M work copy `benchmarks/playbooks.py --keep` leaves (its default sizes and seed)
WORK = refresh_bench.DATA / f"playbooks-{refresh_bench.cached_name(_default_sizes())}-work.db"
COLUMNS = ["run_id", "playbook", "level", "rule", "trigger", "customer_id", "occurrence",
           "occurred_on", "fired_on", "holdout", "skip_reason"]
NATURAL = ("playbook", "rule", "customer_id", "occurrence")


@dataclass(frozen=True)
class Variant:
    name: str
    what: str
    dedupe_text: bool = True  # the 300-char text key column (and its unique index)
    unique: tuple[str, ...] = ("dedupe_key",)
    indexes: tuple[tuple[str, ...], ...] = (("playbook", "rule", "occurred_on"),
                                            ("customer_id",), ("run_id",))
    foreign_keys: bool = True
    order: tuple[str, ...] = ()  # the rows' order (default: the unique key's)


VARIANTS = [
    Variant("current", "text dedupe_key (unique) + 3 indexes + 2 foreign keys"),
    Variant("no_run_index", "current without the run_id index",
            indexes=(("playbook", "rule", "occurred_on"), ("customer_id",))),
    Variant("no_customer_index", "current without the customer_id index",
            indexes=(("playbook", "rule", "occurred_on"), ("run_id",))),
    Variant("no_rule_day_index", "current without the (playbook, rule, occurred_on) index",
            indexes=(("customer_id",), ("run_id",))),
    Variant("no_fk_checks", "current, foreign-key checks off", foreign_keys=False),
    Variant("bare", "the floor: the columns, the natural unique key alone, no foreign-key"
            " checks", dedupe_text=False, unique=NATURAL, indexes=(), foreign_keys=False),
    Variant("natural_key", "no text key: unique (playbook, rule, customer_id, occurrence)"
            " + 3 indexes", dedupe_text=False, unique=NATURAL),
    Variant("customer_key", "no text key: unique (customer_id, playbook, rule, occurrence)"
            " (also the customer look-up) + rule-day and run_id indexes", dedupe_text=False,
            unique=("customer_id", "playbook", "rule", "occurrence"),
            indexes=(("playbook", "rule", "occurred_on"), ("run_id",))),
    Variant("natural_lean", "no text key: unique (playbook, rule, customer_id, occurrence)"
            " + rule-day and customer indexes (no run_id index)", dedupe_text=False,
            unique=NATURAL, indexes=(("playbook", "rule", "occurred_on"), ("customer_id",))),
    Variant("customer_lean", "no text key: unique (customer_id, playbook, rule, occurrence)"
            " + the rule-day index only", dedupe_text=False,
            unique=("customer_id", "playbook", "rule", "occurrence"),
            indexes=(("playbook", "rule", "occurred_on"),)),
    Variant("customer_lean_by_rule", "customer_lean, rows in rule order (each rule's "
            "firings sorted by customer: a rule's ids stay one range)", dedupe_text=False,
            unique=("customer_id", "playbook", "rule", "occurrence"),
            indexes=(("playbook", "rule", "occurred_on"),), order=NATURAL),
]


def firings() -> pa.Table:
    """The stress run's firings, as recorded (read once, through ADBC)."""
    from sqlalchemy import select

    from kithkin.database import bulk
    from kithkin.database.core import build_engine
    from kithkin.playbooks import keys
    from kithkin.playbooks.models import PlaybookFiring

    table = bulk.table_of(PlaybookFiring)
    engine = build_engine(f"sqlite:///{WORK}")
    with engine.connect() as conn:
        rows = bulk.select_to_arrow(conn, select(*(table.c[c] for c in COLUMNS)).order_by(
            table.c.id), expected_rows=1_000_000)
    engine.dispose()
    frame = rows.select(["playbook", "rule", "customer_id", "occurrence"]).to_pandas()
    texts = [keys.firing_keys(book, rule, part["customer_id"], part["occurrence"])
             for (book, rule), part in frame.groupby(["playbook", "rule"], sort=False)]
    dedupe = pd.concat(texts).sort_index()  # the text key the code stored before
    return rows.append_column("dedupe_key", pa.array(dedupe.to_numpy(dtype=object),
                                                     pa.string()))


def scratch_table(variant: Variant) -> object:
    """The variant as a SQLAlchemy table (bulk.insert_new builds its statements from it)."""
    from sqlalchemy import (
        Boolean,
        Column,
        Date,
        ForeignKey,
        Index,
        Integer,
        MetaData,
        String,
        Table,
        UniqueConstraint,
    )

    metadata = MetaData()
    Table("customer", metadata, Column("id", Integer, primary_key=True))
    Table("playbook_run", metadata, Column("id", Integer, primary_key=True))
    name = f"bench_firing_{variant.name}"
    columns = [
        Column("id", Integer, primary_key=True),
        Column("run_id", Integer, ForeignKey("playbook_run.id", ondelete="SET NULL")),
        Column("playbook", String(64), nullable=False),
        Column("level", String(16), nullable=False),
        Column("rule", String(64), nullable=False),
        Column("trigger", String(32), nullable=False),
        Column("customer_id", Integer, ForeignKey("customer.id", ondelete="CASCADE"),
               nullable=False),
        Column("occurrence", String(64), nullable=False),
        Column("occurred_on", Date, nullable=False),
        Column("fired_on", Date, nullable=False),
        Column("holdout", Boolean, nullable=False),
        Column("skip_reason", String(100)),
    ]
    if variant.dedupe_text:
        columns.append(Column("dedupe_key", String(300), nullable=False))
    return Table(name, metadata, *columns, UniqueConstraint(*variant.unique),
                 *(Index(f"ix_{name}_{n}", *index) for n, index in
                   enumerate(variant.indexes)))


def sort_keys(variant: Variant) -> list[tuple[str, str]]:
    """The order a run writes its firings in: its unique key's, so that index grows at
    its end."""
    return [(c, "ascending") for c in variant.order or variant.unique]


def run_variant(variant: Variant, rows: pa.Table) -> float:
    from sqlalchemy import event
    from sqlalchemy.schema import CreateIndex, CreateTable

    from kithkin.database import bulk
    from kithkin.database.core import build_engine

    table = scratch_table(variant)
    engine = build_engine(f"sqlite:///{WORK}")  # the store's own pragmas

    @event.listens_for(engine, "connect")
    def pragmas(dbapi: sqlite3.Connection, _: object) -> None:
        if not variant.foreign_keys:
            dbapi.execute("PRAGMA foreign_keys = OFF")

    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")  # type: ignore[attr-defined]
        conn.execute(CreateTable(table))  # type: ignore[arg-type]
        for index in table.indexes:  # type: ignore[attr-defined]
            conn.execute(CreateIndex(index))
        run_id = conn.exec_driver_sql(
            "INSERT INTO playbook_run (as_of, mode, candidates, fired, holdout, tasks, "
            "messages, skipped, failed, started_at) VALUES ('2024-06-30', 'bench', 0, 0, "
            "0, 0, 0, 0, 0, '2024-06-30 00:00:00') RETURNING id").scalar_one()
    data = rows if variant.dedupe_text else rows.drop_columns(["dedupe_key"])
    data = data.set_column(data.column_names.index("run_id"), "run_id",
                           pa.array([run_id] * data.num_rows, pa.int64()))
    data = data.take(pc.sort_indices(data, sort_keys=sort_keys(variant)))
    started = time.perf_counter()
    with engine.begin() as conn, bulk.import_settings(conn):
        inserted = bulk.insert_new(conn, table, data,  # type: ignore[arg-type]
                                   key=list(variant.unique))
    seconds = time.perf_counter() - started
    assert inserted == data.num_rows, (variant.name, inserted)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE {table.name}")  # type: ignore[attr-defined]
        conn.exec_driver_sql(f"DELETE FROM playbook_run WHERE id = {int(run_id)}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated variant names")
    args = parser.parse_args()
    if not WORK.exists():
        raise SystemExit(f"no {WORK.name}: run benchmarks/playbooks.py --keep first")
    wanted = [v for v in VARIANTS if not args.only or v.name in args.only.split(",")]
    rows = firings()
    load_before = refresh_bench.machine()
    times: dict[str, list[float]] = {v.name: [] for v in wanted}
    # alternate the variants, so a change of load spreads over all of them
    runner: Callable[[Variant, pa.Table], float] = run_variant
    for round_ in range(args.repeat):  # each round starts one variant further on
        for variant in wanted[round_ % len(wanted):] + wanted[:round_ % len(wanted)]:
            times[variant.name].append(runner(variant, rows))
            print(f"{variant.name}: {times[variant.name][-1]:.2f}s", file=sys.stderr)
    base = min(times["current"]) if "current" in times else None
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
             f"{rows.num_rows:,} firings recorded (insert + commit)", "",
             f"- before: {load_before}", f"- after: {refresh_bench.machine()}", "",
             "| variant | what | seconds (each run) | best | vs current |",
             "|---|---|---|---:|---:|"]
    for variant in wanted:
        best = min(times[variant.name])
        change = "" if base is None else f"{best - base:+.2f} s"
        lines.append(f"| {variant.name} | {variant.what} | "
                     f"{', '.join(f'{t:.2f}' for t in times[variant.name])} | "
                     f"{best:.2f} | {change} |")
    text = "\n".join(lines)
    print(text)
    refresh_bench.append_result("playbooks_firing_schema.md", text, header=(
        "# Benchmark: what each part of playbook_firing's schema costs (1M firings)\n\n"
        "Command: `flock /tmp/kithkin-bench.lock .venv/bin/python "
        "benchmarks/playbooks_firing_schema.py` (see its docstring)\n"))


if __name__ == "__main__":
    main()
