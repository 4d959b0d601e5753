"""Bulk reads and writes of a SQLite file through ADBC, in a child process.

Python's ``sqlite3`` spends most of a bulk insert or read on per-value work (binding,
boxing), several times what SQLite itself needs (figures in
benchmarks/results/code_figures.md). ADBC moves Arrow data in and out of SQLite in C. It
links its own SQLite library, and two SQLite libraries in one process do not see each
other's POSIX locks (see :func:`kithkin.analytics.snapshot._adbc_copy_in_children`), so it runs
in a child process:

- :func:`start` writes Arrow tables into a fresh SQLite file there and returns at once
  (the caller overlaps its own work); :meth:`Pending.wait` gives the file, which
  :mod:`kithkin.database.bulk.sqlite` ATTACHes to the caller's connection so that its
  ``INSERT ... SELECT`` and ``UPDATE ... FROM`` run in C inside the caller's transaction.
- :func:`read` runs queries on the committed store there and returns Arrow.

Only :mod:`kithkin.database.bulk` calls this module: it decides when the path applies
(a SQLite file, the driver installed, at least :data:`MIN_ROWS` rows). The module
imports no SQLAlchemy, so the child process starts fast.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from kithkin.errors import KithkinError

MIN_ROWS = 20_000
"""Fewer rows than this go through the plain driver: the child's start-up costs more."""


def available() -> bool:
    """Whether the ADBC SQLite driver is installed (an optional dependency)."""
    try:
        import adbc_driver_sqlite  # noqa: F401
    except ImportError:
        return False
    return True


def _child(arguments: list[str]) -> str:
    done = subprocess.run([sys.executable, "-m", "kithkin.database.adbc", *arguments],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise KithkinError(f"bulk SQLite step failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


@dataclass
class Pending:
    """An ingest running in a child process (see :func:`start`): the caller keeps
    working meanwhile, then :meth:`wait` gives the written file, or :meth:`cancel`
    drops it."""

    folder: Path
    process: subprocess.Popen[str]

    @property
    def target(self) -> Path:
        return self.folder / "stage.db"

    def wait(self) -> Path:
        """Wait for the child; the staged SQLite file (the caller removes it)."""
        _, err = self.process.communicate()
        for path in self.folder.glob("*.arrow"):
            path.unlink()
        if self.process.returncode != 0:
            self.remove()
            raise KithkinError(f"bulk SQLite step failed: {err.strip()[-2000:]}")
        return self.target

    def remove(self) -> None:
        if not self.folder.exists():
            return
        for path in self.folder.iterdir():
            path.unlink()
        self.folder.rmdir()

    def cancel(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()
        self.remove()


def start(database: str, tables: Mapping[str, pa.Table]) -> Pending:
    """Start writing ``tables`` into a fresh SQLite file next to ``database`` in a child
    process and return at once."""
    folder = Path(tempfile.mkdtemp(prefix="kithkin-stage-", dir=Path(database).parent))
    arguments = ["ingest", str(folder / "stage.db")]
    try:
        for name, table in tables.items():
            path = folder / f"{name}.arrow"
            with pa.OSFile(str(path), "wb") as sink, \
                    pa.ipc.new_file(sink, table.schema) as out:
                out.write_table(table)
            arguments += [name, str(path)]
        process = subprocess.Popen(
            [sys.executable, "-m", "kithkin.database.adbc", *arguments],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except BaseException:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
        raise
    return Pending(folder, process)


_SENTINELS = {"int": "0", "float": "0.0", "str": "''"}


@dataclass(frozen=True)
class Query:
    """A query for :func:`read`; ``types`` (``int``, ``float`` or ``str`` per column) type
    a sentinel first row: the driver infers each column's type from its first rows,
    which may be NULL."""

    sql: str
    types: Sequence[str]
    parameters: Sequence[Any] = ()


def read(database: str, queries: Mapping[str, Query]) -> dict[str, pa.Table]:
    """The rows of every query (committed data) as Arrow, read in one child process."""
    folder = Path(tempfile.mkdtemp(prefix="kithkin-read-", dir=Path(database).parent))
    requests: list[tuple[str, str, str, list[Any]]] = []
    for n, (name, query) in enumerate(queries.items()):
        first = ", ".join(_SENTINELS[t] for t in query.types)
        requests.append((name, str(folder / f"q{n}.arrow"),
                         f"SELECT {first} UNION ALL SELECT * FROM ({query.sql})",
                         list(query.parameters)))
    tables = {}
    try:
        _child(["read", database, json.dumps(requests)])
        for name, output, _, _ in requests:
            with pa.memory_map(output) as source:
                tables[name] = pa.ipc.open_file(source).read_all().slice(1)
    finally:
        for leftover in folder.glob("*.arrow"):
            leftover.unlink()
        folder.rmdir()
    return tables


def _ingest(target: str, pairs: list[str]) -> None:
    import adbc_driver_sqlite.dbapi as adbc

    with adbc.connect(target, autocommit=True) as conn, conn.cursor() as cursor:
        # a scratch file, deleted after use: no journal, no syncs
        cursor.execute("PRAGMA journal_mode = OFF")
        cursor.fetchall()
        cursor.execute("PRAGMA synchronous = OFF")
        for name, path in zip(pairs[::2], pairs[1::2], strict=True):
            with pa.memory_map(path) as source:
                table = pa.ipc.open_file(source).read_all()
            cursor.adbc_ingest(name, table, mode="create")


def _read(database: str, requests: list[list[Any]]) -> None:
    import adbc_driver_sqlite.dbapi as adbc

    with adbc.connect(database) as conn, conn.cursor() as cursor:
        for _, path, query, parameters in requests:
            cursor.execute(query, parameters or None)
            table = cursor.fetch_arrow_table()
            with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as out:
                out.write_table(table)


def main(argv: list[str]) -> None:
    """Child-process entry: ``ingest TARGET NAME PATH ...`` or ``read DATABASE REQUESTS``
    (JSON: [name, path, query, parameters] per query)."""
    if argv[0] == "ingest":
        _ingest(argv[1], argv[2:])
    else:
        _read(argv[1], json.loads(argv[2]))


if __name__ == "__main__":
    main(sys.argv[1:])
