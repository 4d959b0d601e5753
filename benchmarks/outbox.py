"""Outbox delivery throughput to a local SMTP server and a local webhook receiver, against
a reference timed in the same run: the same messages sent by raw smtplib on one
connection (and raw urllib POSTs), without the outbox.

The outbox's extra work per message is what makes it crash-safe: a claim per batch
committed before sending, and one committed UPDATE (status SENT) right after each send,
so a crash leaves at most one message sent-but-unmarked. The ratio below is the price of
that guarantee on this store (SQLite, WAL, synchronous=NORMAL by default; ``--store
postgresql`` uses the PostgreSQL at KITHKIN_TEST_PG_URL).

Both receivers are in this process (aiosmtpd in its own thread, a threading HTTP server),
so sender and receivers share the machine's cores.

    flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/outbox.py
    .venv/bin/python benchmarks/outbox.py --messages 500 --repeats 1     # quick
"""

from __future__ import annotations

import argparse
import os
import platform
import smtplib
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from sqlalchemy import create_engine, text  # noqa: E402
from tests.outbox.receivers import smtp_server, webhook_server  # noqa: E402

from kithkin.config import Settings  # noqa: E402
from kithkin.customers.models import Consent, Customer  # noqa: E402
from kithkin.database.core import build_engine, session_scope  # noqa: E402
from kithkin.database.manage import upgrade  # noqa: E402
from kithkin.outbox import delivery  # noqa: E402
from kithkin.outbox import service as outbox_service  # noqa: E402
from kithkin.outbox.models import Message  # noqa: E402
from kithkin.outbox.signing import sign  # noqa: E402
from kithkin.outbox.transports import SmtpTransport, webhook_body  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "outbox.md"
SECRET = "benchmark-signing-secret-" + "x" * 16
PG_URL = os.environ.get("KITHKIN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def store(kind: str, home: Path) -> tuple[str, object]:
    if kind == "sqlite":
        return f"sqlite:///{home / 'kithkin.db'}", None
    name = f"kithkin_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return PG_URL.rsplit("/", 1)[0] + f"/{name}", (admin, name)


def seed(settings: Settings, engine: object, count: int, channel: str) -> float:
    """Customers with consent and one queued message each; returns queue messages/s."""
    with session_scope(engine) as session:  # type: ignore[arg-type]
        customers = [Customer(first_name=f"P{i}", last_name="Bench",
                              email=f"p{i}@example.com",
                              consents=[Consent(channel="email", status="granted")])
                     for i in range(count)]
        session.add_all(customers)
        session.flush()
        ids = [c.id for c in customers]
    started = time.perf_counter()
    with session_scope(engine) as session:  # type: ignore[arg-type]
        for customer_id in ids:
            outbox_service.queue_message(session=session, customer_id=customer_id,
                                         template="winback", channel=channel,
                                         settings=settings)
    return count / (time.perf_counter() - started)


def raw_smtp(settings: Settings, messages: list[Message]) -> float:
    """Build each e-mail (the same MIME message the outbox sends) and send it on one
    connection: the work any sender does, without the store."""
    transport = SmtpTransport(settings)
    started = time.perf_counter()
    assert settings.smtp_host is not None
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port) as smtp:
        for message in messages:
            smtp.send_message(transport.build(message))
    return len(messages) / (time.perf_counter() - started)


def raw_webhook(url: str, messages: list[Message]) -> float:
    started = time.perf_counter()
    for message in messages:
        key, body = message.idempotency_key, webhook_body(message)
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "Idempotency-Key": key,
            "Kithkin-Signature": sign(secret=SECRET, body=body, timestamp=int(time.time()))})
        with urllib.request.urlopen(request, timeout=15) as response:
            response.read()
    return len(messages) / (time.perf_counter() - started)


def one_round(kind: str, count: int, channel: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder, smtp_server() as (port, mail), \
            webhook_server(SECRET) as (url, hooks):
        home = Path(folder)
        url_db, cleanup = store(kind, home)
        engine = build_engine(url_db)
        try:
            upgrade(engine)
            settings = Settings(home=home, database_url=url_db, smtp_host="127.0.0.1",
                                smtp_port=port, smtp_tls="none", smtp_from="shop@example.com",
                                webhook_url=url, webhook_secret=SECRET, outbox_cap_messages=0)
            queued = seed(settings, engine, count, channel)
            with session_scope(engine) as session:
                messages = list(session.query(Message).order_by(Message.id))
                session.expunge_all()
            reference = (raw_smtp(settings, messages) if channel == "email"
                         else raw_webhook(url, messages))
            inbox = mail if channel == "email" else hooks
            before = len(inbox.accepted)
            started = time.perf_counter()
            report = delivery.deliver(settings=settings, engine=engine)
            outbox = report.sent / (time.perf_counter() - started)
            assert report.sent == count, report
            # The reference sent the same keys first: every outbox send is a receiver-side
            # repeat, so the raw counter shows it arrived once more per message.
            assert len(inbox.accepted) == before == count
            assert sum(inbox.raw.values()) == 2 * count
        finally:
            engine.dispose()
            if cleanup is not None:
                admin, name = cleanup  # type: ignore[misc]
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        return {"queue": queued, "reference": reference, "outbox": outbox}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stores", default="sqlite,postgresql")
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows = []
    for kind in args.stores.split(","):
        for channel in ("email", "webhook"):
            rounds = [one_round(kind, args.messages, channel) for _ in range(args.repeats)]
            median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
            rows.append((kind, channel, median, [r["outbox"] for r in rounds]))
            print(kind, channel, {k: round(v) for k, v in median.items()}, flush=True)
    load_after = os.getloadavg()
    lines = [
        "# Outbox delivery throughput",
        "",
        f"{args.messages:,} messages per round, median of {args.repeats} rounds. "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after (a shared machine: other jobs ran meanwhile).",
        "",
        "| store | channel | outbox msg/s | reference msg/s (raw, no outbox) | outbox / "
        "reference | outbox rounds msg/s | queue_message msg/s |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    for kind, channel, median, each in rows:
        reference = "smtplib, one connection" if channel == "email" else "urllib POSTs"
        lines.append(
            f"| {kind} | {channel} | {median['outbox']:,.0f} | {median['reference']:,.0f} "
            f"({reference}) | {median['outbox'] / median['reference']:.2f} | "
            f"{', '.join(f'{v:,.0f}' for v in each)} | {median['queue']:,.0f} |")
    lines += [
        "",
        "The reference builds and sends the very same rendered messages (same MIME "
        "message, headers and signature) with no store in the loop. The outbox adds the "
        "batch claim, a consent re-check and one "
        "committed status update per message (docs/outbox.md, \"Exactly once\"); "
        "`queue_message` includes rendering the template with the customer's memory "
        "(last purchase query), consent and cap checks. Receivers run in the benchmark's "
        "own process and deduplicate on the idempotency key (each round checks every "
        "message was accepted once).",
        "",
        "    flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/outbox.py",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
