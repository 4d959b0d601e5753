"""Small builders shared by the ingestion tests."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from kithkin.imports.ingest import ingest_file

VOLATILE = {"id", "created_at", "updated_at"}

CUSTOMERS = [
    ["source", "external_id", "first_name", "last_name", "email", "phone", "consent_email"],
    ["shop", "c1", "Ann", "Lee", "ann@example.com", "+44 20 7946 0018", "granted"],
    ["shop", "c2", "Bob", "Ray", "bob@example.com", "", "no"],
    ["shop", "c3", "Cy", "Orr", "", "+1 202 555 0143", ""],
]

TRANSACTIONS_HEADER = ["source", "order_id", "customer_external_id", "ordered_at", "amount",
                       "currency"]


def write_csv(path: Path, rows: list[list[Any]], *, delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return path


def seed_customers(engine: Engine, folder: Path) -> None:
    report = ingest_file(kind="customers", path=write_csv(folder / "seed.csv", CUSTOMERS),
                         engine=engine)
    assert report.rows_rejected == 0, report


def rows_of(engine: Engine, table: str, exclude: set[str] = VOLATILE) -> list[tuple[Any, ...]]:
    """Table content without surrogate ids and timestamps, sorted: comparable across runs."""
    with engine.connect() as conn:
        result = conn.execute(text(f'SELECT * FROM "{table}"'))
        keep = [i for i, name in enumerate(result.keys()) if name not in exclude]
        rows = [tuple(str(row[i]) for i in keep) for row in result]
    return sorted(rows)


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())


def read_rejects(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)  # rejected rows keep their (over-long) original cells
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@dataclass
class Service:
    """A store with the helper customers, the API on it and an admin's key."""

    engine: Engine
    client: TestClient
    headers: dict[str, str]
    checked: int = 0  # customer ids up to this one were new when last checked

    def customer_pages_answer(self, *, everyone: bool = False) -> None:
        """GET every customer's page, or the seeded ones and those added since last time
        (imports add transactions to the seeded customers only)."""
        with self.engine.connect() as conn:
            ids = list(conn.execute(text("SELECT id FROM customer ORDER BY id")).scalars())
        assert ids
        seeded = ids[:len(CUSTOMERS) - 1]
        for customer_id in ids if everyone else [*seeded, *(i for i in ids if i > self.checked)]:
            response = self.client.get(f"/api/v1/customers/{customer_id}", headers=self.headers)
            assert response.status_code == 200, (customer_id, response.text[:500])
        self.checked = ids[-1]
