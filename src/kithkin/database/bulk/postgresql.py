"""PostgreSQL's fast path: ``COPY ... FROM STDIN (FORMAT csv)`` through psycopg.

COPY streams rows without a statement per row, and Arrow writes the CSV in C. Rows that
must be merged (upserts, updates by id) are copied into a TEMP table mirroring the
target's columns and applied with one ``INSERT ... SELECT ... ON CONFLICT`` or
``UPDATE ... FROM``, both built by SQLAlchemy from the tables.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
from sqlalchemy import Column, Connection, MetaData, Table, exc

from kithkin.database.bulk.columns import csv_bytes

_names = itertools.count()


def copy(conn: Connection, table: Table, rows: pa.Table) -> int:
    """COPY conformed ``rows`` into ``table``; the rows written."""
    if rows.num_rows == 0:
        return 0
    preparer = conn.dialect.identifier_preparer
    columns = ", ".join(preparer.quote(name) for name in rows.column_names)
    import psycopg  # the PostgreSQL driver, only needed here

    raw: Any = conn.connection.driver_connection
    sql = f"COPY {preparer.format_table(table)} ({columns}) FROM STDIN (FORMAT csv)"
    try:
        with raw.cursor() as cursor, cursor.copy(sql) as stream:
            stream.write(csv_bytes(rows))
    except psycopg.Error as error:  # as SQLAlchemy would raise it (IntegrityError, ...)
        raise exc.DBAPIError.instance(sql, None, error, psycopg.Error) from error
    return int(rows.num_rows)


def set_custom_plans(conn: Connection) -> None:
    """Plan every statement of this transaction for its own parameters.

    psycopg prepares a statement after five runs, and PostgreSQL may then keep a generic
    plan chosen while the tables were nearly empty (a sequential scan), which turns every
    later look-up into a full scan as an import grows the table.
    """
    conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")


@contextmanager
def temp_copy(conn: Connection, like: Table, rows: pa.Table) -> Iterator[Table]:
    """``rows`` in a TEMP table with ``like``'s column types, dropped afterwards."""
    temp = Table(f"kithkin_bulk_{next(_names)}", MetaData(),
                 *(Column(name, like.c[name].type) for name in rows.column_names),
                 prefixes=["TEMPORARY"])
    temp.create(conn)
    copy(conn, temp, rows)
    yield temp
    # after an error the transaction (or the caller's savepoint) is rolled back, which
    # drops the table; a DROP there would only hide the error
    temp.drop(conn)
