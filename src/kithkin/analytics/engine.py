"""The one place the analytical engine is chosen (``settings.analytics_engine``).

Every analytics function is an Ibis expression over the tables of an
:class:`AnalyticsSource`; which engine runs it is decided here only:

- ``duckdb`` (default): in process, over the incremental Parquet snapshot of the store.
- ``postgres``: directly on the operational tables (``settings.analytics_url`` or the
  store URL), no copy.
- ``pyspark``: a local-mode SparkSession (or ``settings.analytics_url`` as master) over
  the same Parquet snapshot; for data beyond one machine point it at a cluster.

All three expose the same columns with the same types (see
:data:`kithkin.analytics.snapshot.SPECS`) and evaluate in UTC.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from kithkin.analytics import snapshot
from kithkin.config import Settings
from kithkin.database.core import get_engine
from kithkin.errors import ConfigurationError, ServiceUnavailableError

SPARK_SHUFFLE_PARTITIONS = 4
# One snapshot refresh at a time within a process (the DuckDB engine rewrites Parquet):
# held by the readers that connect on demand (API reports, dashboard pages).
CONNECT_LOCK = threading.Lock()
T = TypeVar("T")


@dataclass(frozen=True)
class AnalyticsSource:
    """Ibis tables named like the snapshot specs, on one backend."""

    engine: str
    backend: BaseBackend
    customers: ir.Table
    transactions: ir.Table
    lines: ir.Table
    products: ir.Table
    interactions: ir.Table
    memberships: ir.Table
    snapshot: tuple[snapshot.TableRefresh, ...] = ()


def _conform(table: ir.Table, spec: snapshot.TableSpec) -> ir.Table:
    """Same column names and types on every backend (PostgreSQL numerics become float64)."""
    types = {"int64": "int64", "double": "float64", "string": "string"}
    casts = {}
    for column, dtype in spec.columns:
        if dtype == snapshot.UTC_TIMESTAMP:
            casts[column] = table[column].cast(ibis.dtype("timestamp('UTC')"))
        else:
            casts[column] = table[column].cast(types[str(dtype)])
    return table.select(**casts)


def _ibis_schema(spec: snapshot.TableSpec) -> ibis.Schema:
    """The spec's columns as an ibis schema (given to ``backend.sql``, whose own schema
    look-up renders ``DROP VIEW IF EXISTS`` without a name under sqlglot 30)."""
    types = {"int64": "int64", "double": "float64", "string": "string"}
    return ibis.schema({column: "timestamp('UTC')" if dtype == snapshot.UTC_TIMESTAMP
                        else types[str(dtype)] for column, dtype in spec.columns})


def _source(name: str, backend: BaseBackend, tables: dict[str, ir.Table],
            refreshed: tuple[snapshot.TableRefresh, ...] = ()) -> AnalyticsSource:
    conformed = {spec.name: _conform(tables[spec.name], spec) for spec in snapshot.SPECS}
    return AnalyticsSource(engine=name, backend=backend, snapshot=refreshed, **conformed)


def _postgres_url(settings: Settings, store: Engine) -> str:
    url = settings.analytics_url or store.url.render_as_string(hide_password=False)
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(
            "analytics_engine=postgres needs a PostgreSQL store or KITHKIN_ANALYTICS_URL"
        )
    return parsed.set(drivername="postgres").render_as_string(hide_password=False)


def connect_postgres(settings: Settings, store: Engine) -> AnalyticsSource:
    """The operational tables in place; a table with columns the snapshot derives while
    copying (customer attributes decoded from JSON) is read through the same SELECT."""
    backend = ibis.connect(_postgres_url(settings, store))
    backend.raw_sql("SET TIME ZONE 'UTC'")
    tables = {spec.name: backend.sql(snapshot.select_sql(spec, "postgresql"),
                                     schema=_ibis_schema(spec), dialect="postgres")
              if spec.derived else backend.table(spec.table) for spec in snapshot.SPECS}
    return _source("postgres", backend, tables)


def connect_duckdb(settings: Settings, store: Engine) -> AnalyticsSource:
    refreshed = tuple(snapshot.refresh(engine=store, directory=settings.snapshot_dir))
    return open_duckdb(settings.snapshot_dir, refreshed)


def open_duckdb(directory: Path,
                refreshed: tuple[snapshot.TableRefresh, ...] = ()) -> AnalyticsSource:
    """An in-process DuckDB over the Parquet snapshot in ``directory`` as it stands
    (:func:`connect_duckdb` brings it up to date first)."""
    backend = ibis.duckdb.connect()
    backend.raw_sql("SET TimeZone = 'UTC'")
    tables = {
        spec.name: backend.read_parquet(snapshot.parquet_glob(directory, spec.name))
        for spec in snapshot.SPECS
    }
    return _source("duckdb", backend, tables, refreshed)


def spark_session(master: str | None = None, *, small_data: bool = False) -> Any:
    """A local-mode SparkSession in UTC with few shuffle partitions (small machines).

    ``small_data`` (tests) uses one shuffle partition and turns off code generation, whose
    compile time dominates queries over a few rows, and the JVM's optimising JIT tier
    (C1 only, serial GC): on two busy cores C2 compiling Spark itself took longer than
    the jobs (the analytics tests' Spark setup: 78-88 s with it, 29-37 s without).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ServiceUnavailableError("pyspark is not installed (pip install kithkin[spark])") \
            from exc
    builder = (
        SparkSession.builder.master(master or "local[2]")
        .appName("kithkin")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "1" if small_data else
                str(SPARK_SHUFFLE_PARTITIONS))
        .config("spark.ui.enabled", "false")
    )
    if small_data:
        builder = builder.config("spark.sql.codegen.wholeStage", "false").config(
            "spark.sql.codegen.factoryMode", "NO_CODEGEN").config(
            "spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
    try:
        return builder.getOrCreate()
    except Exception as exc:
        raise ServiceUnavailableError(f"cannot start Spark: {exc}") from exc


def connect_pyspark(settings: Settings, store: Engine, session: Any = None) -> AnalyticsSource:
    refreshed = tuple(snapshot.refresh(engine=store, directory=settings.snapshot_dir))
    backend = ibis.pyspark.connect(session or spark_session(settings.analytics_url))
    tables = {
        spec.name: backend.read_parquet(str(settings.snapshot_dir / spec.name))
        for spec in snapshot.SPECS
    }
    return _source("pyspark", backend, tables, refreshed)


def connect(settings: Settings, *, store: Engine | None = None) -> AnalyticsSource:
    """The analytics tables on the engine named by ``settings.analytics_engine``."""
    store = store or get_engine()
    if settings.analytics_engine == "postgres":
        return connect_postgres(settings, store)
    if settings.analytics_engine == "pyspark":
        return connect_pyspark(settings, store)
    return connect_duckdb(settings, store)


def to_pandas(source: AnalyticsSource, expr: ir.Table) -> pd.DataFrame:
    """Through Arrow: ibis' ``to_pandas`` on DuckDB turns every column holding a null
    into Python objects (``to_pylist``) before converting it, much slower on a metrics
    block; Arrow's own conversion gives the same dtypes and values (Spark, which hands
    over pandas itself, keeps ibis' path)."""
    if source.engine == "pyspark":
        spark_frame: pd.DataFrame = source.backend.to_pandas(expr)
        return spark_frame
    frame: pd.DataFrame = source.backend.to_pyarrow(expr).to_pandas()
    return frame


def on_demand(settings: Settings, store: Engine, use: Callable[[AnalyticsSource], T]) -> T:
    """Connect to ``store``'s analytics tables and ``use`` them, for the readers outside a
    refresh (dashboard pages, a relationship refresh on its own): one at a time within a
    process, as the DuckDB engine's snapshot refresh rewrites Parquet."""
    with CONNECT_LOCK:
        return use(connect(settings, store=store))


def release(source: AnalyticsSource, cached: Any) -> None:
    """Drop a table cached with ``.cache()``. ibis 12 with sqlglot 30 renders ``DROP
    TABLE IF EXISTS`` without the table name on SQL backends, so fall back to dropping
    it by hand."""
    name = cached.op().name
    try:
        cached.release()
    except Exception:
        source.backend.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
