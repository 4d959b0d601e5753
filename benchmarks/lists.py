"""Bulk actions and the CSV export of a large list (target: a 100k-customer list).

A list's bulk actions run set-based (``INSERT ... SELECT`` for tasks and tags, one
``UPDATE`` for the account manager) and its export streams keyset batches; this times
them on a store of synthetic customers (the customer_list benchmark's generator: names,
one metric row each at one refresh, a journey stage, a value tier) plus email consent
for 60%, next to the reference timed in the same run: a plain ``SELECT`` of the members'
ids fetched into Python, the least any per-member work could cost. Each timed action
runs on a fresh copy of the store (they write), ``--repeat`` times; a repeated run of
the same request key (the no-op) is timed too. Queuing messages goes through the
outbox's ``queue_message`` per member (consent and caps live there) and is timed on a
smaller list, per message. Run it under the shared lock:

    flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/lists.py
    flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/lists.py --quick
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from customer_list import add_values  # sibling scripts, not a package
from dashboard_search import DATA, MIGRATIONS_DIR, RESULTS, build_store


def add_consent(path: Path, customers: int, seed: int = 5) -> None:
    """Granted email consent for about 60% of the customers, denied for the rest."""
    rng = random.Random(seed)
    connection = sqlite3.connect(path)
    connection.executemany(
        "INSERT INTO consent (customer_id, channel, status, updated_at) VALUES "
        "(?, 'email', ?, '2026-01-01 00:00:00')",
        [(cid, "granted" if rng.random() < 0.6 else "denied")
         for cid in range(1, customers + 1)])
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()


def base_store(customers: int) -> tuple[Path, float]:
    DATA.mkdir(parents=True, exist_ok=True)
    schema = hashlib.sha1(b"".join(
        p.read_bytes() for p in sorted((MIGRATIONS_DIR / "versions").glob("*.py")))
    ).hexdigest()[:10]
    for stale in DATA.glob(f"lists_{customers}_*.db*"):
        if schema not in stale.name:
            stale.unlink()
    path = DATA / f"lists_{customers}_{schema}.db"
    seconds = 0.0
    if not path.exists():
        begin = time.perf_counter()
        build_store(path, customers)
        add_values(path, customers)
        add_consent(path, customers)
        seconds = time.perf_counter() - begin
    return path, seconds


def fresh_copy(base: Path, work: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(base, work)
    return f"sqlite:///{work}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=5_000,
                        help="members of the list the message send is timed on")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10k customers")
    args = parser.parse_args()
    customers = 10_000 if args.quick else args.customers
    if args.quick:
        args.messages = min(args.messages, 1_000)
    base, load_seconds = base_store(customers)
    work = DATA / f"lists_work_{customers}.db"
    os.environ["KITHKIN_HOME"] = str(DATA / f"lists_home_{customers}")

    from sqlalchemy import select

    from kithkin.config import get_settings
    from kithkin.customers.models import Customer
    from kithkin.database.core import build_engine, session_scope
    from kithkin.lists import actions, export
    from kithkin.lists import service as list_service
    from kithkin.lists.schemas import ActionRequest
    from kithkin.lists.spec import ListSpec
    from kithkin.users import service as users_service

    def run(url: str, spec: ListSpec, params: dict[str, Any], key: str,
            ) -> tuple[float, Any]:
        engine = build_engine(url)
        try:
            with session_scope(engine) as session:
                saved = (list_service.all_lists(session=session) or [None])[0]
                if saved is None:
                    saved = list_service.create_list(session=session, name="bench",
                                                     spec=spec)
                    session.commit()
                request = ActionRequest.model_validate({"request_key": key,
                                                        "params": params})
                begin = time.perf_counter()
                of = list_service.audience(session=session, spec=spec)
                done = actions.run_action(session=session, settings=get_settings(),
                                          saved=saved, of=of, params=request.params,
                                          request_key=key, via="cli")
                elapsed = (time.perf_counter() - begin) * 1000
                return elapsed, (done.members, done.affected, done.skipped)
        finally:
            engine.dispose()

    everyone = ListSpec()
    rows: list[tuple[str, int, float, float, str, bool]] = []

    def record(case: str, members: int, times: list[float], note: str = "",
               comparable: bool = True) -> None:
        rows.append((case, members, statistics.median(times), max(times), note,
                     comparable))
        print(f"{case}: {statistics.median(times):.1f} ms", flush=True)

    # reference, size and export: read-only, on one copy
    url = fresh_copy(base, work)
    engine = build_engine(url)
    with session_scope(engine) as session:
        users_service.create_user(session=session, email="manager@bench.test",
                                  name="Manager", password="benchmark-password",
                                  role="manager")
    members = 0
    reference, sizes, exports = [], [], []
    before: int | None = None
    for _ in range(args.repeat + 1):
        with session_scope(engine) as session:
            begin = time.perf_counter()
            ids = list(session.scalars(select(Customer.id).where(
                Customer.merged_into_id.is_(None), Customer.erased_at.is_(None))))
            reference.append((time.perf_counter() - begin) * 1000)
            members = len(ids)
        with session_scope(engine) as session:
            begin = time.perf_counter()
            of = list_service.audience(session=session, spec=everyone)
            assert list_service.size(session=session, of=of) == members
            sizes.append((time.perf_counter() - begin) * 1000)
        with session_scope(engine) as session:
            out = DATA / f"lists_export_{customers}.csv"
            if before is None:  # the high-water mark before the first export
                before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            begin = time.perf_counter()
            with out.open("w", encoding="utf-8", newline="") as handle:
                of = list_service.audience(session=session, spec=everyone)
                for chunk in export.csv_chunks(session=session, of=of):
                    handle.write(chunk)
            exports.append((time.perf_counter() - begin) * 1000)
            grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
            with out.open(encoding="utf-8") as handle:
                assert sum(1 for _ in handle) == members + 1
    record("reference: SELECT the members' ids into Python", members, reference[1:])
    record("size (COUNT)", members, sizes[1:])
    record("export CSV (streamed, 5,000-row batches) to a file", members, exports[1:],
           f"the process's peak RSS grew {grown / 1024:.0f} MiB over all the exports")
    with session_scope(engine) as session:
        at_risk = ListSpec(at_risk=True, clv_min=100, consent_channel="email")
        of = list_service.audience(session=session, spec=at_risk)
        filtered = list_service.size(session=session, of=of)
        times = []
        for _ in range(args.repeat):
            begin = time.perf_counter()
            list_service.size(session=session, of=of)
            times.append((time.perf_counter() - begin) * 1000)
    record("size (COUNT), at risk + CLV >= 100 + email consent", filtered, times)
    engine.dispose()

    cases: list[tuple[str, dict[str, Any]]] = [
        ("create tasks (INSERT ... SELECT)", {"action": "create_tasks", "title": "Call"}),
        ("add tag (INSERT ... SELECT)", {"action": "add_tag", "tag": "bench"}),
        ("assign account manager (UPDATE)", {"action": "assign_manager",
                                             "account_manager_id": 1}),
    ]
    for case, params in cases:
        first, again = [], []
        for round_ in range(args.repeat):
            url = fresh_copy(base, work)
            engine = build_engine(url)
            with session_scope(engine) as session:
                users_service.create_user(session=session, email="manager@bench.test",
                                          name="Manager", password="benchmark-password",
                                          role="manager")
            engine.dispose()
            elapsed, (matched, affected, _) = run(url, everyone, params, f"r{round_}")
            assert affected == matched == members, (case, matched, affected)
            first.append(elapsed)
            elapsed, (_, affected_again, _) = run(url, everyone, params, f"r{round_}")
            assert affected_again == affected  # the run as it was: nothing new
            again.append(elapsed)
        record(case, members, first, "each customer once")
        record(case + ", the same run again (no-op)", members, again,
               "a done run is returned as it is")

    # messages: per member through the outbox, on a smaller list
    url = fresh_copy(base, work)
    engine = build_engine(url)
    with session_scope(engine) as session:
        cap = session.scalar(select(Customer.id).order_by(Customer.id)
                             .offset(args.messages - 1).limit(1))
    engine.dispose()
    engine = build_engine(url)
    times = []
    with session_scope(engine) as session:
        session.execute(Customer.__table__.update().where(Customer.id <= cap)
                        .values(country="ZZ"))
    engine.dispose()
    sends = ListSpec(country="ZZ")
    elapsed, (matched, queued, skipped) = run(url, sends, {
        "action": "queue_message", "template": "generic", "subject": "Hello",
        "body": "News"}, "send")
    times.append(elapsed)
    record("queue a message per member (outbox, 1,000-member batches)", matched, times,
           f"{elapsed / max(matched, 1):.2f} ms per message; {queued:,} queued, "
           f"{skipped:,} skipped; a smaller list: not comparable with the reference",
           comparable=False)

    load = os.getloadavg()
    reference_ms = rows[0][2]
    lines = [
        "# Lists: bulk actions and CSV export",
        "",
        f"**Create tasks for {members:,} members: {rows[4][2]:,.0f} ms median, "
        f"{rows[4][2] / reference_ms:.1f}x the plain SELECT of their ids "
        f"({reference_ms:,.0f} ms); the CSV export {rows[2][2]:,.0f} ms "
        f"({rows[2][2] / reference_ms:.1f}x).**",
        "",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores (nproc), Python "
        f"{platform.python_version()}, load average {load[0]:.2f} / {load[1]:.2f} / "
        f"{load[2]:.2f} (other engineers share the CPU)",
        f"- store: SQLite, {customers:,} customers, one metric row each at one refresh "
        "(10% unknown CLV/P(alive)), a journey stage, a value tier, email consent for "
        f"60% (cached file{f', built in {load_seconds:.0f} s' if load_seconds else ''})",
        f"- {args.repeat} runs per row (read-only rows after one warm-up; each write on a "
        "fresh copy of the store); ms is wall time of the whole action, the run record "
        "and its commits included",
        f"- command: `flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/lists.py"
        f"{' --quick' if args.quick else ''}`",
        "",
        "| case | members | median ms | max ms | x reference | note |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for case, count, median, worst, note, comparable in rows:
        ratio = f"{median / reference_ms:.1f}" if comparable else "–"
        lines.append(f"| {case} | {count:,} | {median:,.1f} | {worst:,.1f} | {ratio} | "
                     f"{note} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "lists_quick.md" if args.quick else "lists.md"
    (RESULTS / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS / name}")


if __name__ == "__main__":
    main()
