"""Dashboard customer search and pages on a large store (target: 1M customers).

The customer list must stay fast on a million customers: every search mode is an index
range scan with ``LIMIT n+1`` after a keyset cursor, never ``OFFSET`` and never a
``COUNT(*)``. This loads synthetic customers with one identifier each (sqlite3
executemany; the file is cached in benchmarks/data/), then times, side by side:

- the search service alone (``kithkin.dashboard.service.search_customers``), per mode:
  browse first page, browse a page deep in the table (cursor), a common last-name prefix,
  a rare one, "First Last", an email prefix, an exact external id;
- the whole rendered page through the app (``GET /customers?q=...`` and the customer 360
  ``GET /customers/{id}``, signed in, via Starlette's TestClient).

    .venv/bin/python benchmarks/dashboard_search.py              # 1M customers
    .venv/bin/python benchmarks/dashboard_search.py --quick      # 20k customers
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import resource
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
RESULTS = ROOT / "results"
CHUNK = 100_000
MIGRATIONS_DIR = ROOT.parent / "src" / "kithkin" / "database" / "migrations"
SYLLABLES = ["an", "ber", "cal", "dor", "el", "fen", "gar", "hol", "is", "jen", "kor",
             "lan", "mor", "nor", "ol", "per", "quin", "ros", "sten", "tor", "ul", "van",
             "wil", "yor", "zan"]
FIRST = ["Ada", "Alan", "Grace", "Maria", "John", "Li", "Omar", "Sofia", "Ken", "Ines"]
START = datetime(2022, 1, 1, tzinfo=UTC)


def last_names(rng: random.Random) -> list[str]:
    """625 two-syllable names plus 'Smith', drawn Zipf-like so some are very common."""
    names = [(a + b).capitalize() for a in SYLLABLES for b in SYLLABLES]
    return ["Smith", *names]


def rows(n: int, seed: int = 7) -> Iterator[tuple[object, ...]]:
    rng = random.Random(seed)
    names = last_names(rng)
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(names))]
    now = datetime(2026, 1, 1).isoformat(sep=" ")
    for i in range(1, n + 1):
        last = rng.choices(names, weights)[0]
        first = FIRST[i % len(FIRST)]
        email = f"{first.lower()}.{last.lower()}{i}@example.com"
        yield (i, first, last, email, email, "London", "GB", now, now)


def build_store(path: Path, customers: int) -> None:
    """Migrate with Alembic, then bulk-load customers, identifiers and a few orders."""
    from kithkin.database.core import build_engine
    from kithkin.database.manage import upgrade

    engine = build_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    batch: list[tuple[object, ...]] = []
    for row in rows(customers):
        batch.append(row)
        if len(batch) == CHUNK:
            _insert(connection, batch)
            batch = []
    if batch:
        _insert(connection, batch)
    orders = []
    for customer_id in range(1, min(customers, 1000) + 1):
        for k in range(30):  # a long timeline for the 360 page
            at = (START + timedelta(days=10 * k)).isoformat(sep=" ")
            orders.append(("shop", f"O-{customer_id}-{k}", customer_id, at, 25.0 + k, at))
    connection.executemany(
        'INSERT INTO "transaction" (source, order_id, customer_id, ordered_at, amount,'
        " created_at) VALUES (?, ?, ?, ?, ?, ?)", orders)
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()


def _insert(connection: sqlite3.Connection, batch: list[tuple[object, ...]]) -> None:
    connection.executemany(
        "INSERT INTO customer (id, first_name, last_name, email, email_normalized, city,"
        " country, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
    connection.executemany(
        "INSERT INTO customer_identifier (customer_id, source, external_id, created_at)"
        " VALUES (?, 'shop', ?, ?)", [(r[0], f"C-{r[0]}", r[7]) for r in batch])
    connection.commit()


def _search(search: Callable[..., object], query: str, cursor: str | None) -> int:
    from kithkin.database.core import session_scope

    with session_scope() as session:
        page = search(session=session, query=query, cursor=cursor)
        return len(page.exact) + len(page.customers)  # type: ignore[attr-defined]


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and max wall time in milliseconds over ``repeat`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="20k customers")
    args = parser.parse_args()
    customers = 20_000 if args.quick else args.customers
    DATA.mkdir(parents=True, exist_ok=True)
    # The cached file is only reused while the schema (the one migration) is unchanged.
    schema = hashlib.sha1(b"".join(
        p.read_bytes() for p in sorted((MIGRATIONS_DIR / "versions").glob("*.py")))
    ).hexdigest()[:10]
    for stale in DATA.glob(f"dashboard_search_{customers}_*.db*"):
        if schema not in stale.name:
            stale.unlink()
    path = DATA / f"dashboard_search_{customers}_{schema}.db"
    load_seconds = 0.0
    if not path.exists():
        start = time.perf_counter()
        build_store(path, customers)
        load_seconds = time.perf_counter() - start

    home = DATA / f"dashboard_search_home_{customers}"
    os.environ["KITHKIN_HOME"] = str(home)
    os.environ["KITHKIN_DATABASE_URL"] = f"sqlite:///{path}"

    from fastapi.testclient import TestClient
    from sqlalchemy import delete

    from kithkin.api.app import create_app
    from kithkin.customers import search as customer_search
    from kithkin.database.core import session_scope
    from kithkin.database.pagination import encode_cursor
    from kithkin.users import service as users_service
    from kithkin.users.models import StaffUser

    with session_scope() as session:
        session.execute(delete(StaffUser))
        users_service.create_user(session=session, email="bench@kithkin.test", name="Bench",
                                  password="benchmark-password", role="admin")
        known = customer_search.search_customers(session=session, query="C-777").exact
        email = known[0].email_normalized or ""
    deep_cursor = encode_cursor(customers // 2, customers // 2)

    cases: list[tuple[str, str, str | None]] = [
        ("browse, first page", "", None),
        ("browse, page at the middle (cursor)", "", deep_cursor),
        ("last-name prefix, common ('Smi')", "Smi", None),
        ("last-name prefix, rare ('Zanzan')", "Zanzan", None),
        ("'First Last' ('Ada Smith')", "Ada Smith", None),
        (f"whole email ('{email}')", email, None),
        (f"email local part ('{email.split('@')[0]}@')", email.split("@")[0] + "@", None),
        ("exact external id ('C-777')", "C-777", None),
    ]
    results = []
    for label, query, cursor in cases:
        # A fresh session per call, as a request gets.
        run = partial(_search, customer_search.search_customers, query, cursor)
        shown = run()
        median, worst = timed(run, args.repeat)
        results.append(("service", label, shown, median, worst))

    client = TestClient(create_app())
    login = client.get("/login").text
    token = login.split('name="csrf_token" value="')[1].split('"')[0]
    # Not following the redirect: the overview it lands on is not what this times.
    client.post("/login", data={"email": "bench@kithkin.test",
                                "password": "benchmark-password", "csrf_token": token},
                follow_redirects=False)
    pages = [("GET /customers", "/customers"), ("GET /customers?q=Smi", "/customers?q=Smi"),
             ("GET /customers?q=C-777", "/customers?q=C-777"),
             ("GET /customers/500 (360, 30 orders)", "/customers/500")]
    for label, url in pages:
        assert client.get(url).status_code == 200, url
        median, worst = timed(partial(client.get, url), args.repeat)
        results.append(("page", label, 0, median, worst))

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()
    lines = [
        "# Dashboard search and pages",
        "",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores (nproc), "
        f"Python {platform.python_version()}, load average {load[0]:.2f} / {load[1]:.2f} "
        f"/ {load[2]:.2f} (other engineers share the CPU)",
        f"- store: SQLite, {customers:,} customers with one identifier each"
        + (f" (loaded in {load_seconds:.0f} s)" if load_seconds else " (cached file)"),
        f"- {args.repeat} runs per row after one warm-up; page size "
        f"{customer_search.PAGE_SIZE}; peak RSS {peak_mb:,.0f} MB",
        "- command: `.venv/bin/python benchmarks/dashboard_search.py"
        + (" --quick`" if args.quick else f" --customers {customers}`"),
        "",
        "| what | case | rows shown | median ms | max ms | pages/s (median) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for kind, label, shown, median, worst in results:
        lines.append(f"| {kind} | {label} | {shown if kind == 'service' else ''} | "
                     f"{median:.2f} | {worst:.2f} | {1000 / median:,.0f} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("dashboard_search_quick.md" if args.quick else "dashboard_search.md")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
