"""API load: customer 360 latency and batch event ingestion, on SQLite and PostgreSQL.

Loads synthetic customers (with identifiers, consents, orders, interactions, a
membership and a metrics row each) straight into the store - sqlite3 executemany for
SQLite (the file is cached in benchmarks/data/), COPY for a PostgreSQL database created
and dropped here - then starts ``uvicorn kithkin.api.app:create_app`` in a subprocess on
127.0.0.1 and drives it with concurrent httpx clients:

1. ``GET /api/v1/customers/{id}`` (the customer 360) on random ids for a fixed time:
   p50/p95/p99 latency and requests/s (target: p95 < 50 ms);
2. ``POST /api/v1/events/batch`` with new interactions: events/s (target: >= 5,000),
   then every batch is sent again (idempotency) and the stored rows are counted (no lost
   or duplicated event).

Client and server share this machine's cores, so the latencies include client overhead.

``--abuse`` measures instead the customer 360 while anonymous clients send oversized
bodies (``--abuse-mb`` each, half with a Content-Length, half chunked) to
``POST /api/v1/events/batch`` and ``/api/v1/auth/login``: quiet, under abuse, quiet
again, with the server's peak RSS (target: bounded, and the 360's p95 under abuse
within 2x of the quiet figure); results in benchmarks/results/api_load_abuse.md.

    .venv/bin/python benchmarks/api_load.py                  # 1M customers, both stores
    .venv/bin/python benchmarks/api_load.py --quick          # 20k customers
    .venv/bin/python benchmarks/api_load.py --stores sqlite --customers 200000
    .venv/bin/python benchmarks/api_load.py --abuse --customers 100000 --concurrency 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import platform
import random
import resource
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from sqlalchemy import create_engine, text

from kithkin.database.core import build_engine, session_scope
from kithkin.database.manage import upgrade
from kithkin.users import service as user_service
from kithkin.users.models import Role

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
RESULTS = ROOT / "results"
PG_ADMIN = os.environ.get("KITHKIN_TEST_PG_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRET = "api-load-benchmark-secret-not-for-production"
START = datetime(2022, 1, 1, tzinfo=UTC)
ORDERS_PER_CUSTOMER = 3
CHUNK = 100_000


# --- synthetic rows -----------------------------------------------------------------------

def _iso(moment: datetime) -> str:
    """Naive UTC text: what the UTCDateTime column stores on SQLite."""
    return moment.replace(tzinfo=None).isoformat(sep=" ")


def customer_rows(first: int, last: int) -> Iterator[dict[str, list[Any]]]:
    """Column-wise chunks of every table, for customer ids first..last-1."""
    rng = np.random.default_rng(first)
    now = _iso(datetime.now(UTC))
    for lo in range(first, last, CHUNK):
        hi = min(last, lo + CHUNK)
        ids = list(range(lo, hi))
        n = len(ids)
        offsets = rng.integers(0, 900, size=(n, ORDERS_PER_CUSTOMER))
        amounts = np.round(rng.gamma(2.0, 30.0, size=(n, ORDERS_PER_CUSTOMER)), 2)
        rows: dict[str, list[Any]] = {
            "customer": [(i, f"First{i % 997}", f"Last{i % 7919}", f"c{i}@example.com",
                          f"c{i}@example.com", "FR", now, now) for i in ids],
            "customer_identifier": [(i, i, "shop", f"C{i:08d}", now) for i in ids],
            "consent": [(i, i, "email", "granted", now) for i in ids],
            "transaction": [
                (i * ORDERS_PER_CUSTOMER + k, "shop", f"O{i}-{k}", i,
                 _iso(START + timedelta(days=int(offsets[j, k]))), float(amounts[j, k]),
                 "EUR", now)
                for j, i in enumerate(ids) for k in range(ORDERS_PER_CUSTOMER)
            ],
            "interaction": [(i, "desk", f"I{i}", i,
                             _iso(START + timedelta(days=int(offsets[j, 0]))),
                             "inbound", "inquiry", "email", now) for j, i in enumerate(ids)],
            "membership": [(i, "shop", f"M{i}", i, "loyalty", "Club", "silver",
                            _iso(START), now, now) for i in ids if i % 3 == 0],
            "customer_metric": [(i, "2024-06-01", i, ORDERS_PER_CUSTOMER,
                                 float(amounts[j].sum()), 0.8, 123.4) for j, i in enumerate(ids)],
        }
        yield rows


INSERTS = {
    "customer": "customer (id, first_name, last_name, email, email_normalized, country, "
                "created_at, updated_at)",
    "customer_identifier": "customer_identifier (id, customer_id, source, external_id, "
                           "created_at)",
    "consent": "consent (id, customer_id, channel, status, updated_at)",
    "transaction": "transaction (id, source, order_id, customer_id, ordered_at, amount, "
                   "currency, created_at)",
    "interaction": "interaction (id, source, external_id, customer_id, occurred_at, "
                   "direction, kind, channel, created_at)",
    "membership": "membership (id, source, external_id, customer_id, kind, programme, tier, "
                  "started_at, created_at, updated_at)",
    "customer_metric": "customer_metric (id, as_of, customer_id, orders, revenue, p_alive, "
                       "clv)",
}


def _columns(spec: str) -> int:
    return spec.count(",") + 1


def _target(table: str) -> str:
    """The INSERT target; "transaction" is a reserved word and must be quoted."""
    spec = INSERTS[table]
    return '"transaction"' + spec[len("transaction"):] if table == "transaction" else spec


def schema_tag() -> str:
    """A digest of the migration scripts: the cached store is rebuilt when they change
    (a column added to a migration in place would otherwise be missing from it)."""
    import kithkin.database.migrations as migrations

    digest = hashlib.sha256()
    for script in sorted(Path(migrations.__path__[0]).rglob("*.py")):
        digest.update(script.read_bytes())
    return digest.hexdigest()[:10]


def sqlite_store(customers: int) -> Path:
    """The cached store's path; older caches of the same size (other schemas) are removed."""
    path = DATA / f"api_load_{customers}_{schema_tag()}.db"
    for stale in DATA.glob(f"api_load_{customers}[._]*"):
        if not stale.name.startswith(path.name):
            stale.unlink()
    return path


def load_sqlite(path: Path, customers: int) -> None:
    """Build the cached SQLite store once (schema by migration, rows by executemany)."""
    if path.exists():
        return
    partial = path.with_suffix(".part")
    partial.unlink(missing_ok=True)
    engine = build_engine(f"sqlite:///{partial}")
    upgrade(engine)
    engine.dispose()
    connection = sqlite3.connect(partial)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    for chunk in customer_rows(1, customers + 1):
        with connection:
            for table, rows in chunk.items():
                marks = ",".join("?" * _columns(INSERTS[table]))
                connection.executemany(f"INSERT INTO {_target(table)} VALUES ({marks})", rows)
        print(f"  sqlite: {chunk['customer'][-1][0]:,} customers", flush=True)
    connection.execute("ANALYZE")
    connection.close()
    partial.rename(path)


def load_postgres(url: str, customers: int) -> None:
    engine = build_engine(url)
    upgrade(engine)
    engine.dispose()
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as connection, connection.cursor() as cursor:
        for chunk in customer_rows(1, customers + 1):
            for table, rows in chunk.items():
                with cursor.copy(f"COPY {_target(table)} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            connection.commit()
            print(f"  postgresql: {chunk['customer'][-1][0]:,} customers", flush=True)
        for table in INSERTS:
            name = '"transaction"' if table == "transaction" else table
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                           f"(SELECT max(id) FROM {name}))")
        connection.commit()
        connection.autocommit = True
        cursor.execute("VACUUM ANALYZE")


# --- server and clients -------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def environment(url: str, home: Path) -> dict[str, str]:
    return {**os.environ, "KITHKIN_DATABASE_URL": url, "KITHKIN_HOME": str(home),
            "KITHKIN_SECRET_KEY": SECRET}


def issue_key(url: str, home: Path) -> str:
    os.environ.update({"KITHKIN_SECRET_KEY": SECRET, "KITHKIN_HOME": str(home),
                       "KITHKIN_DATABASE_URL": url})
    from kithkin.config import get_settings

    get_settings.cache_clear()
    engine = build_engine(url)
    with session_scope(engine) as session:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        user = user_service.create_user(session=session, email=email, name="Bench",
                                        password="benchmark-password", role=Role.MANAGER)
        row_and_key = user_service.create_api_key(
            session=session, settings=get_settings(), user_id=user.id, name="bench",
            scopes=["*"])
    engine.dispose()
    key: str = row_and_key[1]
    return key


class Server:
    """The app as ``kithkin serve`` runs it (kithkin.api.serving), without access logs."""

    def __init__(self, url: str, home: Path, workers: int) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-c",
             "from kithkin.api.serving import run; "
             f"run('kithkin.api.app:create_app', host='127.0.0.1', port={self.port}, "
             f"workers={workers}, log_level='warning', access_log=False)"],
            env=environment(url, home),
        )
        self.base = f"http://127.0.0.1:{self.port}"

    def wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the API server did not become ready")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


@dataclass
class Latencies:
    seconds: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)  # from the Server-Timing header
    errors: int = 0  # non-200 answers, dropped connections and client timeouts (30 s)
    timeouts: int = 0
    wall: float = 0.0

    def quantile(self, q: float) -> float:
        return float(np.quantile(self.seconds, q)) * 1000 if self.seconds else float("nan")

    def server_quantile(self, q: float) -> float:
        return float(np.quantile(self.server_ms, q)) if self.server_ms else float("nan")


async def detail_load(base: str, key: str, customers: int, *, concurrency: int,
                      duration: float) -> Latencies:
    result = Latencies()
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                 timeout=30) as client:
        for _ in range(20):  # warm-up: imports, caches, connections
            await client.get(f"/api/v1/customers/{random.randint(1, customers)}")
        stop_at = time.perf_counter() + duration

        async def worker(seed: int) -> None:
            rng = random.Random(seed)
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                try:
                    response = await client.get(
                        f"/api/v1/customers/{rng.randint(1, customers)}")
                except httpx.TransportError as error:  # counted: a stall shows in the table
                    result.errors += 1
                    result.timeouts += isinstance(error, httpx.TimeoutException)
                    continue
                elapsed = time.perf_counter() - started
                if response.status_code == 200 and response.json()["recent_transactions"]:
                    result.seconds.append(elapsed)
                    timing = response.headers.get("server-timing", "")
                    if timing.startswith("app;dur="):
                        result.server_ms.append(float(timing.removeprefix("app;dur=")))
                else:
                    result.errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        result.wall = time.perf_counter() - began
    return result


def event_batches(run: str, customers: int, events: int, batch: int) -> list[list[dict[str, Any]]]:
    rng = random.Random(run)
    records = [
        {"source": run, "external_id": f"e{n}",
         "customer_external_id": f"C{rng.randint(1, customers):08d}", "customer_source": "shop",
         "occurred_at": (START + timedelta(minutes=n)).isoformat(), "direction": "inbound",
         "kind": "review", "channel": "web", "score": rng.randint(1, 5), "score_scale": "csat"}
        for n in range(events)
    ]
    return [records[i:i + batch] for i in range(0, events, batch)]


async def ingest_load(base: str, key: str, batches: list[list[dict[str, Any]]], *,
                      concurrency: int) -> tuple[float, int, int]:
    """Send every batch (``concurrency`` in flight); returns (seconds, inserted, rejected)."""
    headers = {"Authorization": f"Bearer {key}"}
    queue = list(enumerate(batches))
    inserted = rejected = 0
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=300) as client:

        async def worker() -> None:
            nonlocal inserted, rejected
            while queue:
                _, records = queue.pop()
                response = await client.post("/api/v1/events/batch",
                                             json={"kind": "interactions", "records": records})
                response.raise_for_status()
                body = response.json()
                inserted += body["inserted"]
                rejected += body["rejected"]

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - began, inserted, rejected


def count_events(url: str, run: str) -> int:
    engine = build_engine(url)
    with engine.connect() as connection:
        stored: int = connection.execute(text("SELECT count(*) FROM interaction WHERE source = :s"),
                                    {"s": run}).scalar_one()
    engine.dispose()
    return int(stored)


# --- abuse: oversized anonymous bodies beside normal traffic ------------------------------

def _proc_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn workers), from /proc."""
    pids, index = [pid], 0
    while index < len(pids):
        for task in Path(f"/proc/{pids[index]}/task").glob("*/children"):
            pids += [int(child) for child in task.read_text().split()]
        index += 1
    return pids


def server_memory_mib(pid: int, field_name: str = "VmRSS") -> float:
    """A /proc status figure of the server process tree, MiB (0 when it is gone):
    ``VmRSS`` (resident, including the store's memory-mapped pages), ``RssAnon`` (heap:
    what buffered request bodies would grow) or ``VmHWM`` (peak resident so far)."""
    total_kib = 0
    for member in _proc_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith(f"{field_name}:"):
                    total_kib += int(line.split()[1])
    return total_kib / 1024


def server_rss_mib(pid: int) -> tuple[float, float]:
    """(resident, anonymous) memory of the server tree, MiB."""
    return server_memory_mib(pid), server_memory_mib(pid, "RssAnon")


@dataclass
class AbuseStats:
    attempts: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    bytes_sent: int = 0
    rss_samples: list[tuple[float, float]] = field(default_factory=list)

    def count(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


async def oversized_post(host: str, port: int, path: str, total: int, *,
                         chunked: bool) -> tuple[str, int]:
    """POST ``total`` bytes of junk without credentials, as fast as the server takes
    them; returns (the status the server answered, or how the connection ended; bytes
    sent before that)."""
    reader, writer = await asyncio.open_connection(host, port)
    framing = ("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
    writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json"
                 f"\r\n{framing}\r\n\r\n".encode())
    answer = asyncio.ensure_future(reader.readline())
    piece = b"[" + b"1," * 32_767 + b"1"
    sent = 0
    try:
        while sent < total and not answer.done():
            data = piece[:total - sent]
            writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            await writer.drain()
            sent += len(data)
        if chunked and not answer.done():
            writer.write(b"0\r\n\r\n")
        line = await asyncio.wait_for(answer, 60)
        status = line.split()[1].decode() if line.startswith(b"HTTP/") else "closed"
    except (TimeoutError, ConnectionError) as error:
        if answer.done() and not answer.exception() and answer.result().startswith(b"HTTP/"):
            status = answer.result().split()[1].decode()
        else:
            status = type(error).__name__
    finally:
        answer.cancel()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return status, sent


async def abuse_load(base: str, key: str, customers: int, pid: int, *, clients: int,
                     abusers: int, body_mb: int, duration: float
                     ) -> tuple[Latencies, AbuseStats]:
    """The customer 360 with ``clients`` while ``abusers`` send oversized bodies."""
    stats = AbuseStats()
    host, port = base.removeprefix("http://").split(":")
    stop_at = time.perf_counter() + duration
    paths = ["/api/v1/events/batch", "/api/v1/events/batch", "/api/v1/auth/login"]

    async def abuser(n: int) -> None:
        while time.perf_counter() < stop_at:
            status, sent = await oversized_post(host, int(port), paths[n % len(paths)],
                                                body_mb << 20, chunked=n % 2 == 1)
            stats.attempts += 1
            stats.bytes_sent += sent
            stats.count(status)

    async def sampler() -> None:
        while time.perf_counter() < stop_at:
            stats.rss_samples.append(server_rss_mib(pid))
            await asyncio.sleep(0.2)

    detail = asyncio.ensure_future(
        detail_load(base, key, customers, concurrency=clients, duration=duration))
    await asyncio.gather(detail, sampler(), *(abuser(n) for n in range(abusers)))
    return detail.result(), stats


async def quiet_load(base: str, key: str, customers: int, pid: int, *, clients: int,
                     duration: float) -> tuple[Latencies, tuple[float, float]]:
    """The customer 360 alone; returns its latencies and the server's peak memory."""
    samples: list[tuple[float, float]] = []
    stop_at = time.perf_counter() + duration

    async def sampler() -> None:
        while time.perf_counter() < stop_at:
            samples.append(server_rss_mib(pid))
            await asyncio.sleep(0.2)

    detail, _ = await asyncio.gather(
        detail_load(base, key, customers, concurrency=clients, duration=duration), sampler())
    return detail, _peaks(samples)


def _peaks(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return (max((rss for rss, _ in samples), default=0.0),
            max((anon for _, anon in samples), default=0.0))


def run_abuse(args: argparse.Namespace, load_before: str) -> str:
    home = DATA / "api_load_home"
    home.mkdir(parents=True, exist_ok=True)
    path = sqlite_store(args.customers)
    load_sqlite(path, args.customers)
    url = f"sqlite:///{path}"
    key = issue_key(url, home)
    server = Server(url, home, args.workers)
    clients = args.concurrency[-1]
    phases: list[tuple[str, Latencies, tuple[float, float], AbuseStats | None]] = []
    try:
        server.wait()
        pid = server.process.pid
        idle_rss = server_rss_mib(pid)
        for phase in ("quiet", "abuse", "quiet again"):
            print(f"  {phase}: customer 360 for {args.duration:.0f} s, {clients} clients",
                  flush=True)
            if phase == "abuse":
                detail, stats = asyncio.run(abuse_load(
                    server.base, key, args.customers, pid, clients=clients,
                    abusers=args.abusers, body_mb=args.abuse_mb, duration=args.duration))
                phases.append((phase, detail, _peaks(stats.rss_samples), stats))
            else:
                detail, peak = asyncio.run(quiet_load(server.base, key, args.customers, pid,
                                                      clients=clients,
                                                      duration=args.duration))
                phases.append((phase, detail, peak, None))
        hwm = server_memory_mib(pid, "VmHWM")
    finally:
        server.stop()
    return abuse_report(args, load_before, idle_rss, hwm, phases)


def run_header(load_before: str) -> list[str]:
    """The command, machine and load lines every results file starts with."""
    return [
        f"Command: `{' '.join(['.venv/bin/python benchmarks/api_load.py', *sys.argv[1:]])}`",
        "",
        f"- machine: {platform.machine()}, nproc {os.cpu_count()}, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}",
        f"- load average before / after: {load_before} / "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} (other engineers share the CPU)",
    ]


def abuse_report(args: argparse.Namespace, load_before: str, idle_rss: tuple[float, float],
                 hwm: float,
                 phases: list[tuple[str, Latencies, tuple[float, float], AbuseStats | None]],
                 ) -> str:
    quiet_p95 = [d.quantile(0.95) for name, d, _, s in phases if s is None]
    abused_p95 = next(d.quantile(0.95) for _, d, _, s in phases if s is not None)
    stats = next(s for _, _, _, s in phases if s is not None)
    reference = max(quiet_p95)
    lines = [
        "# API load under abuse: oversized anonymous bodies beside normal traffic", "",
        *run_header(load_before),
        f"- store: SQLite (embedded default), {args.customers:,} customers; server: uvicorn, "
        f"{args.workers} worker(s); clients in the same machine",
        f"- customer 360: {args.concurrency[-1]} concurrent clients, {args.duration:.0f} s per "
        "phase (quiet, under abuse, quiet again)",
        f"- abuse: {args.abusers} anonymous clients in a loop, each POSTing {args.abuse_mb} MB "
        "of JSON-looking junk (half Content-Length, half chunked) to "
        "`/api/v1/events/batch` (2 of 3) and `/api/v1/auth/login` (1 of 3)",
        "",
        "| phase | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | errors "
        "| server RSS peak MiB | of which heap (RssAnon) MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, d, peak, _ in phases:
        rps = len(d.seconds) / d.wall if d.wall else 0.0
        worst = max(d.seconds, default=float("nan")) * 1000
        lines.append(f"| {name} | {len(d.seconds):,} | {rps:,.0f} | {d.quantile(0.5):.1f} | "
                     f"{d.quantile(0.95):.1f} | {d.quantile(0.99):.1f} | {worst:.0f} | "
                     f"{d.errors} | {peak[0]:,.0f} | {peak[1]:,.0f} |")
    answered = ", ".join(f"{status}: {n:,}" for status, n in sorted(stats.statuses.items()))
    lines += [
        "",
        f"- oversized requests: {stats.attempts:,} ({answered}); "
        f"{stats.bytes_sent / 2**20:,.1f} MiB sent in all before the server refused them, "
        f"{stats.bytes_sent / max(stats.attempts, 1) / 1024:,.0f} KiB per request "
        f"(each offered {args.abuse_mb} MB)",
        f"- server RSS: {idle_rss[0]:,.0f} MiB idle after start ({idle_rss[1]:,.0f} MiB heap), "
        f"peak over the whole run (VmHWM) {hwm:,.0f} MiB; RSS includes the store's "
        "memory-mapped pages (SQLite mmap), which grow as the 360s touch the file",
        f"- customer 360 p95 under abuse / worst quiet phase: {abused_p95:.1f} / "
        f"{reference:.1f} ms = {abused_p95 / reference:.2f}x (target: within 2x)",
        "",
    ]
    return "\n".join(lines)


@dataclass
class StoreResult:
    store: str
    customers: int
    load_seconds: float
    detail: dict[int, Latencies]
    events: int
    ingest_seconds: float
    inserted: int
    rejected: int
    resend_inserted: int
    stored: int


def run_store(store: str, args: argparse.Namespace) -> StoreResult:
    home = DATA / "api_load_home"
    home.mkdir(parents=True, exist_ok=True)
    admin = None
    database = None
    began = time.perf_counter()
    if store == "sqlite":
        path = sqlite_store(args.customers)
        load_sqlite(path, args.customers)
        url = f"sqlite:///{path}"
    else:
        database = f"kithkin_api_load_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{database}"'))
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{database}"
        load_postgres(url, args.customers)
    load_seconds = time.perf_counter() - began
    server = None
    try:
        key = issue_key(url, home)
        server = Server(url, home, args.workers)
        server.wait()
        detail = {}
        for clients in args.concurrency:
            print(f"  {store}: customer 360 for {args.duration:.0f} s, {clients} clients",
                  flush=True)
            detail[clients] = asyncio.run(detail_load(
                server.base, key, args.customers, concurrency=clients, duration=args.duration))
        run = f"bench-{uuid.uuid4().hex[:8]}"
        batches = event_batches(run, args.customers, args.events, args.batch)
        print(f"  {store}: ingesting {args.events:,} events in batches of {args.batch:,}",
              flush=True)
        seconds, inserted, rejected = asyncio.run(
            ingest_load(server.base, key, batches, concurrency=args.ingest_concurrency))
        _, resend_inserted, _ = asyncio.run(
            ingest_load(server.base, key, batches, concurrency=args.ingest_concurrency))
        stored = count_events(url, run)
    finally:
        if server is not None:
            server.stop()
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()
    return StoreResult(store, args.customers, load_seconds, detail, args.events, seconds,
                       inserted, rejected, resend_inserted, stored)


def report(results: list[StoreResult], args: argparse.Namespace, load_before: str) -> str:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    lines = [
        "# API load", "",
        *run_header(load_before),
        f"- customers: {args.customers:,} (each with an identifier, a consent, "
        f"{ORDERS_PER_CUSTOMER} orders, an interaction, a metrics row; a third with a "
        "membership)",
        f"- server: uvicorn, {args.workers} worker(s); clients: httpx AsyncClient in the same "
        "machine",
        f"- customer 360: {', '.join(map(str, args.concurrency))} concurrent clients, "
        f"{args.duration:.0f} s each; events: {args.events:,} interactions in batches of "
        f"{args.batch:,}, {args.ingest_concurrency} in flight",
        f"- peak RSS: benchmark process {peak_mb:,.0f} MiB, largest child (server) "
        f"{children_mb:,.0f} MiB",
        "",
        "## Customer 360 (`GET /api/v1/customers/{id}`)", "",
        "Client-observed latency, and the server's own time per request (Server-Timing "
        "header: from the request reaching the app to the response start).", "",
        "| store | clients | requests | req/s | p50 ms | p95 ms | p99 ms | server p50 ms "
        "| server p95 ms | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for clients, d in r.detail.items():
            rps = len(d.seconds) / d.wall if d.wall else 0.0
            lines.append(
                f"| {r.store} | {clients} | {len(d.seconds):,} | {rps:,.0f} | "
                f"{d.quantile(0.5):.1f} | {d.quantile(0.95):.1f} | {d.quantile(0.99):.1f} | "
                f"{d.server_quantile(0.5):.1f} | {d.server_quantile(0.95):.1f} | {d.errors}"
                + (f" ({d.timeouts} timeouts)" if d.timeouts else "") + " |")
    lines += [
        "", "## Batch event ingestion (`POST /api/v1/events/batch`)", "",
        "| store | data load s | events | seconds | events/s | inserted | rejected "
        "| re-sent inserted | rows stored | lost |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.store} | {r.load_seconds:,.1f} | {r.events:,} | {r.ingest_seconds:.1f} | "
            f"{r.events / r.ingest_seconds:,.0f} | {r.inserted:,} | {r.rejected:,} | "
            f"{r.resend_inserted:,} | {r.stored:,} | {r.events - r.stored - r.rejected:,} |")
    lines += [
        "",
        "Targets: customer 360 p95 < 50 ms; ingestion >= 5,000 events/s; no lost events "
        "(rows stored + rejected = events sent; re-sending every batch inserts nothing).",
        "The SQLite data load is cached in benchmarks/data/ and shows 0 when reused.",
        "",
    ]
    return "\n".join(lines)


def _ints(value: str) -> list[int]:
    return [int(part) for part in value.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--concurrency", type=_ints, default=[1, 4, 16],
                        help="comma-separated client counts for the 360 load")
    parser.add_argument("--duration", type=float, default=20.0,
                        help="seconds of 360 load per client count")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--ingest-concurrency", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--quick", action="store_true", help="20k customers, short runs")
    parser.add_argument("--abuse", action="store_true",
                        help="SQLite only: the 360 beside oversized anonymous bodies")
    parser.add_argument("--abusers", type=int, default=3)
    parser.add_argument("--abuse-mb", type=int, default=120)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.customers, args.duration, args.events = 20_000, 5.0, 20_000
    DATA.mkdir(parents=True, exist_ok=True)
    load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    if args.abuse:
        output = args.output or RESULTS / "api_load_abuse.md"
        markdown = run_abuse(args, load_before)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(markdown)
        print(markdown)
        return
    args.output = args.output or RESULTS / "api_load.md"
    results = [run_store(store.strip(), args) for store in args.stores.split(",")]
    markdown = report(results, args, load_before)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(markdown)
    print(markdown)


if __name__ == "__main__":
    main()
