"""Bulk reads and writes of a SQLite store through ADBC, in a child process.

Python's ``sqlite3`` spends most of a bulk insert or read on per-value work (binding,
boxing), several times what SQLite itself needs (figures in
benchmarks/results/code_figures.md). ADBC moves Arrow data in and out of SQLite in C. It
links its own SQLite library, and two SQLite libraries in one process do not see each
other's POSIX locks (see :func:`kithkin.analytics.snapshot._adbc_copy_in_child`), so it runs
in a child process:

- :func:`attach` writes Arrow tables into a fresh SQLite file there, and ATTACHes that
  file to the session's own connection: the caller's ``INSERT ... SELECT`` and
  ``UPDATE ... FROM`` then run in C inside the session's transaction (atomic as before).
  The file is detached and deleted when that transaction ends. :func:`start` is its
  first half, returning while the child writes (the caller overlaps its own work).
- :func:`read` runs queries on the committed store there and returns Arrow.

Both return ``None`` when the path does not apply (not a SQLite file, no ADBC driver, or
fewer than :data:`MIN_ROWS` rows); callers then use the plain driver path.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from kithkin.errors import KithkinError

if TYPE_CHECKING:  # the child process starts faster without SQLAlchemy
    from sqlalchemy.orm import Session

MIN_ROWS = 20_000
_names = itertools.count()


def database_of(session: Session) -> str | None:
    """The SQLite file behind the session, when ADBC can reach it."""
    url = session.connection().engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    try:
        import adbc_driver_sqlite  # noqa: F401
    except ImportError:
        return None
    return str(url.database)


def _child(arguments: list[str]) -> str:
    done = subprocess.run([sys.executable, "-m", "kithkin.metrics.staging", *arguments],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise KithkinError(f"bulk SQLite step failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def sqlite_values(table: pa.Table) -> pa.Table:
    """Timestamps and dates as the text SQLAlchemy writes to SQLite (UTC, ISO)."""
    arrays = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.timestamp("us")).cast(pa.string())
        elif pa.types.is_date(column.type):
            column = column.cast(pa.string())
        arrays.append(column)
    return pa.Table.from_arrays(arrays, names=table.column_names)


def attach(session: Session, tables: Mapping[str, pa.Table], *,
           min_rows: int | None = None) -> str | None:
    """Attach ``tables`` to the session's connection; returns the schema name to read
    them from (``<schema>.<name>``), or ``None`` (see the module docstring)."""
    pending = start(session, tables, min_rows=min_rows)
    return None if pending is None else pending.attach()


@dataclass
class Pending:
    """An ingest running in a child process (see :func:`start`): the caller keeps
    working meanwhile, then :meth:`attach` waits for it, or :meth:`cancel` drops it."""

    session: Session
    folder: Path
    process: subprocess.Popen[str]

    def _wait(self) -> None:
        _, err = self.process.communicate()
        for path in self.folder.glob("*.arrow"):
            path.unlink()
        if self.process.returncode != 0:
            self._remove()
            raise KithkinError(f"bulk SQLite step failed: {err.strip()[-2000:]}")

    def _remove(self) -> None:
        for path in self.folder.iterdir():
            path.unlink()
        self.folder.rmdir()

    def cancel(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()
        self._remove()

    def attach(self) -> str:
        """Wait for the ingest and attach its file until the transaction ends; returns
        the schema name."""
        from sqlalchemy import event

        self._wait()
        target = self.folder / "stage.db"
        schema = f"kithkin_stage_{os.getpid()}_{next(_names)}"
        raw = self.session.connection().connection.driver_connection
        assert raw is not None
        try:
            raw.execute(f"ATTACH DATABASE ? AS {schema}", (str(target),))
        except BaseException:
            self._remove()
            raise
        done = False

        def release(_session: Session) -> None:
            nonlocal done
            if done:
                return
            done = True
            try:
                raw.execute(f"DETACH DATABASE {schema}")
            finally:
                self._remove()

        event.listen(self.session, "after_commit", release, once=True)
        event.listen(self.session, "after_rollback", release, once=True)
        return schema


def start(session: Session, tables: Mapping[str, pa.Table], *,
          min_rows: int | None = None) -> Pending | None:
    """Start writing ``tables`` into a fresh SQLite file in a child process and return
    at once, so the caller's own work overlaps the ingest; ``None`` as for
    :func:`attach`."""
    database = database_of(session)
    largest = max((t.num_rows for t in tables.values()), default=0)
    if database is None or largest < (MIN_ROWS if min_rows is None else min_rows):
        return None
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
            [sys.executable, "-m", "kithkin.metrics.staging", *arguments],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except BaseException:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
        raise
    return Pending(session, folder, process)


@contextmanager
def page_cache(session: Session, kib: int = 1 << 20) -> Iterator[None]:
    """A larger SQLite page cache while bulk statements run (faster inserts of millions
    of rows into indexed tables), then the connection's own setting again."""
    raw = session.connection().connection.driver_connection
    assert raw is not None
    before = raw.execute("PRAGMA cache_size").fetchone()[0]
    raw.execute(f"PRAGMA cache_size = {-int(kib)}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size = {int(before)}")


_SENTINELS = {"int": "0", "float": "0.0", "str": "''"}


@dataclass(frozen=True)
class Query:
    """A query for :func:`read`; ``types`` (``int``, ``float`` or ``str`` per column) type
    a sentinel first row: the driver infers each column's type from its first rows,
    which may be NULL."""

    sql: str
    types: Sequence[str]
    parameters: Sequence[Any] = ()


def read(session: Session, queries: Mapping[str, Query]) -> dict[str, pa.Table] | None:
    """The rows of every query (committed data) as Arrow, read in one child process;
    ``None`` when the path does not apply (see the module docstring)."""
    database = database_of(session)
    if database is None or not queries:
        return None
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

    with adbc.connect(target) as conn:
        with conn.cursor() as cursor:
            for name, path in zip(pairs[::2], pairs[1::2], strict=True):
                with pa.memory_map(path) as source:
                    table = pa.ipc.open_file(source).read_all()
                cursor.adbc_ingest(name, table, mode="create")
        conn.commit()


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
