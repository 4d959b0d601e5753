"""A ~50 MB CSV with 1% malformed rows: every good row lands, every bad one is rejected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from sqlalchemy import Engine, text

from kithkin.imports.ingest import ingest_file

from .helpers import read_rejects, seed_customers

ROWS = 800_000  # ~50 MB at ~63 bytes a row


def _write(path: Path, rng: np.random.Generator) -> tuple[set[int], set[int]]:
    """Write the file in one go from columns; return (bad value rows, torn rows), 1-based."""
    numbers = np.arange(ROWS)
    bad = rng.choice(ROWS, size=ROWS // 100, replace=False)
    kinds = np.arange(len(bad)) % 4  # bad date, bad amount, unknown customer, torn row
    dates = np.full(ROWS, "2024-01-01T10:00:00+01:00", dtype=object)
    amounts = (numbers % 500 + 0.25).astype(str).astype(object)
    customers = np.array(["c1", "c2", "c3"], dtype=object)[numbers % 3]
    dates[bad[kinds == 0]] = "2024-13-45"
    amounts[bad[kinds == 1]] = "12.34.56abc"
    customers[bad[kinds == 2]] = "ghost"
    table = pa.table({
        "source": pa.array(["shop"] * ROWS),
        "order_id": pa.array(np.char.add("order-", numbers.astype(str))),
        "customer_external_id": pa.array(customers, pa.string()),
        "ordered_at": pa.array(dates, pa.string()),
        "amount": pa.array(amounts, pa.string()),
        "currency": pa.array(["EUR"] * ROWS),
        "channel": pa.array(np.where(numbers % 2 == 0, "web", "store")),
    })
    pa_csv.write_csv(table, path, write_options=pa_csv.WriteOptions(quoting_style="none"))
    torn = set((bad[kinds == 3] + 1).tolist())
    if torn:  # drop the last field of those lines: a row the CSV parser cannot split
        lines = path.read_bytes().split(b"\n")
        for row in torn:
            lines[row] = lines[row].rsplit(b",", 1)[0]
        path.write_bytes(b"\n".join(lines))
    return set((bad[kinds != 3] + 1).tolist()), torn


@pytest.mark.slow
def test_large_file_with_one_percent_bad_rows_loses_no_good_row(sqlite_engine: Engine,
                                                                tmp_path: Path) -> None:
    seed_customers(sqlite_engine, tmp_path)
    path = tmp_path / "orders.csv"
    bad, torn = _write(path, np.random.default_rng(3))
    assert path.stat().st_size > 45_000_000
    report = ingest_file(kind="transactions", path=path, engine=sqlite_engine)
    assert report.rows_read == ROWS
    assert report.rows_rejected == len(bad) + len(torn) == ROWS // 100
    assert report.rows_written == ROWS - ROWS // 100
    assert report.reject_path is not None
    rejects = read_rejects(report.reject_path)
    assert {int(r["row"]) for r in rejects} == bad | torn
    for reject in rejects[:50]:  # original columns are kept and match the row number
        if int(reject["row"]) not in torn:
            assert reject["order_id"] == f"order-{int(reject['row']) - 1}"
    with sqlite_engine.connect() as conn:
        stored = {int(x[0].removeprefix("order-")) + 1 for x in conn.execute(
            text('SELECT order_id FROM "transaction"'))}
    assert stored == set(range(1, ROWS + 1)) - bad - torn
