"""Audit and backup costs: what the audit trail adds to a write request, and how long an
online backup and a checked restore take for a store of a given size.

1. Mutating requests (``PATCH /api/v1/customers/{id}``: one ORM change row plus one
   request row; ``POST /api/v1/events/batch`` of 100 interactions: one request row) timed
   in-process (Starlette TestClient, no network) with the audit middleware and session
   events, and with both switched off, on the same SQLite store: median and p95.
2. ``kithkin backup`` and ``kithkin restore`` of a SQLite store with ``--customers``
   customers and 5 interactions each: seconds and archive size.

    .venv/bin/python benchmarks/audit_backup.py --customers 100000
    .venv/bin/python benchmarks/audit_backup.py --quick
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "audit_backup.md"


def _seed(path: Path, customers: int) -> None:
    connection = sqlite3.connect(path)
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    connection.executemany(
        "INSERT INTO customer (id, first_name, last_name, email, country, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, 'FR', ?, ?)",
        [(i, f"First{i}", f"Last{i}", f"p{i}@example.com", now, now)
         for i in range(1, customers + 1)])
    connection.executemany(
        "INSERT INTO customer_identifier (customer_id, source, external_id, created_at) "
        "VALUES (?, 'shop', ?, ?)", [(i, f"c{i}", now) for i in range(1, customers + 1)])
    connection.executemany(
        "INSERT INTO interaction (source, external_id, customer_id, occurred_at, direction, "
        "kind, text, created_at) VALUES ('crm', ?, ?, ?, 'inbound', 'inquiry', ?, ?)",
        [(f"i{i}-{k}", i, now, "some free text " * 5, now)
         for i in range(1, customers + 1) for k in range(5)])
    connection.commit()
    connection.close()


def _quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


def _requests(audited: bool, rounds: int) -> dict[str, tuple[float, float]]:
    from fastapi.testclient import TestClient
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from kithkin.api.app import create_app
    from kithkin.audit import capture
    from kithkin.audit.middleware import AuditMiddleware
    from kithkin.config import get_settings
    from kithkin.database.core import session_scope
    from kithkin.users import service as user_service

    listeners = [("before_flush", capture._before_flush), ("after_flush", capture._after_flush),
                 ("do_orm_execute", capture._set_based_write)]
    if not audited:
        for name, function in listeners:
            event.remove(Session, name, function)
    try:
        app = create_app()
        if not audited:
            app.user_middleware = [m for m in app.user_middleware if m.cls is not AuditMiddleware]
        with session_scope() as session:
            email = f"bench-{audited}@example.com"
            user = user_service.create_user(session=session, email=email, name="B",
                                            password="benchmark password", role="manager")
            _, key = user_service.create_api_key(session=session, settings=get_settings(),
                                                 user_id=user.id, name="b", scopes=["*"])
        headers = {"X-API-Key": key}
        timings: dict[str, list[float]] = {"PATCH customer": [], "POST events/batch (100)": []}
        with TestClient(app) as client:
            for n in range(rounds):
                started = time.perf_counter()
                response = client.patch(f"/api/v1/customers/{n + 1}", headers=headers,
                                        json={"city": f"City {n} {audited}"})
                timings["PATCH customer"].append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
                records = [{"source": "bench", "external_id": f"{audited}-{n}-{k}",
                            "customer_external_id": f"c{k + 1}", "customer_source": "shop",
                            "occurred_at": "2024-02-01T10:00:00Z", "direction": "inbound",
                            "kind": "inquiry"} for k in range(100)]
                started = time.perf_counter()
                response = client.post("/api/v1/events/batch", headers=headers,
                                       json={"kind": "interactions", "records": records})
                timings["POST events/batch (100)"].append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
        return {name: _quantiles(values) for name, values in timings.items()}
    finally:
        if not audited:
            for name, function in listeners:
                event.listen(Session, name, function)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.customers, args.rounds = 5_000, 50
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / ".kithkin"
        os.environ.update({"KITHKIN_HOME": str(home)})
        os.environ.pop("KITHKIN_DATABASE_URL", None)
        from kithkin.backup import service as backup_service
        from kithkin.config import get_settings
        from kithkin.database.core import dispose_engines, get_engine
        from kithkin.database.manage import upgrade

        get_settings.cache_clear()
        dispose_engines()
        home.mkdir(parents=True)
        upgrade(get_engine())
        _seed(home / "kithkin.db", args.customers)
        rows = {audited: _requests(audited, args.rounds) for audited in (False, True)}
        started = time.perf_counter()
        result = backup_service.create_backup(settings=get_settings(), engine=get_engine())
        backup_seconds = time.perf_counter() - started
        size = result.archive.stat().st_size
        target = Path(tmp) / "restored" / ".kithkin"
        target.mkdir(parents=True)
        os.environ["KITHKIN_HOME"] = str(target)
        get_settings.cache_clear()
        dispose_engines()
        upgrade(get_engine())
        started = time.perf_counter()
        backup_service.restore_backup(settings=get_settings(), engine=get_engine(),
                                      archive=result.archive)
        restore_seconds = time.perf_counter() - started
    lines = [
        "# Audit overhead and backup/restore",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} cores (shared), Python {platform.python_version()}, SQLite; "
        f"`benchmarks/audit_backup.py --customers {args.customers} --rounds {args.rounds}`. "
        "In-process requests (no network); other sessions ran on the same cores.",
        "",
        "| request | without audit: p50 / p95 ms | with audit: p50 / p95 ms |",
        "|---|---|---|",
    ]
    for name in rows[False]:
        off, on = rows[False][name], rows[True][name]
        lines.append(f"| {name} | {off[0]:.1f} / {off[1]:.1f} | {on[0]:.1f} / {on[1]:.1f} |")
    lines += ["", "| store | backup s | archive MB | restore (checked) s |", "|---|---|---|---|",
              f"| {args.customers:,} customers, {5 * args.customers:,} interactions | "
              f"{backup_seconds:.2f} | {size / 1e6:.1f} | {restore_seconds:.2f} |", ""]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
