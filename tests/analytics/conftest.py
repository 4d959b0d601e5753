"""One store of crafted data per engine, shared by the module's tests.

The same rows go into SQLite (read by DuckDB and Spark through the Parquet snapshot) and
into a fresh PostgreSQL database (read in place by the postgres engine). Every analytics
function is evaluated once per engine; the tests compare the results with hand-computed
values and with each other.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from kithkin.analytics import baskets
from kithkin.analytics import engine as analytics_engine
from kithkin.analytics.cohorts import (
    cohort_retention,
    monthly_activity,
    repeat_purchase_rate,
    transaction_totals,
)
from kithkin.analytics.features import (
    customer_features,
    interaction_features,
    line_totals,
    membership_features,
)
from kithkin.analytics.history import costed_transactions, customer_history, split_of, summary_of
from kithkin.analytics.relationship_features import (
    category_spend,
    event_inputs,
    relationship_inputs,
)
from kithkin.analytics.rfm import rfm_scores
from kithkin.analytics.summary import customer_summary
from kithkin.config import Settings
from kithkin.database.core import build_engine
from kithkin.database.manage import upgrade
from kithkin.loyalty import earning
from kithkin.loyalty.programme import Programme
from tests.analytics import crafted
from tests.conftest import missing_service

ENGINES = [
    "duckdb",
    pytest.param("postgres", marks=pytest.mark.postgres),
    # JVM start-up plus a Spark job per function: tens of seconds on 2 busy cores.
    pytest.param("pyspark", marks=[pytest.mark.spark, pytest.mark.slow]),
]


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local SparkSession for the whole run (JVM start-up is the slow part)."""
    if shutil.which("java") is None:
        missing_service("no Java runtime for PySpark (apt-get install openjdk-17-jre)")
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing_service("pyspark is not installed (pip install kithkin[spark])")
    session = analytics_engine.spark_session("local[1]", small_data=True)
    yield session
    session.stop()


def evaluate(source: analytics_engine.AnalyticsSource) -> dict[str, pd.DataFrame]:
    """Every analytics function on the crafted data, as sorted pandas frames."""
    as_of = crafted.AS_OF
    features = customer_features(source.transactions, source.lines, source.products,
                                 as_of=as_of)
    calibration_end = date(2024, 3, 31)
    history = customer_history(
        costed_transactions(source.transactions, line_totals(source.lines, source.products),
                            as_of=as_of), as_of=as_of, calibration_end=calibration_end)
    items = baskets.customer_items(source.transactions, source.lines, as_of=as_of)
    similarity = baskets.item_similarity(items, min_customers=1)
    rules = baskets.association_rules(source.transactions, source.lines, source.products,
                                      as_of=as_of, min_orders=1)
    offers = baskets.offer_expressions(source.transactions, source.lines, source.products,
                                       as_of=as_of, cached=[], min_rule_orders=1)
    expressions = {
        "offers": (offers["offers"], ["customer_id"]),
        "top_rules": (offers["rules"], ["antecedent_id", "consequent_id"]),
        "customer_items": (items, ["customer_id", "product_id"]),
        "item_similarity": (similarity, ["product_id", "other_id"]),
        "recommendations": (baskets.recommendations(items, similarity, source.products,
                                                    as_of=as_of), ["customer_id", "rank"]),
        "popularity": (baskets.popularity(items, source.products, as_of=as_of),
                       ["customer_id", "rank"]),
        "association_rules": (rules, ["antecedent_id", "consequent_id"]),
        "bundles": (baskets.bundle_suggestions(items, rules, source.products, as_of=as_of,
                                               min_lift=0.0), ["customer_id"]),
        "summary": (customer_summary(source.transactions, as_of=as_of), ["customer_id"]),
        "summary_weekly": (customer_summary(source.transactions, as_of=as_of, time_unit="W"),
                           ["customer_id"]),
        "holdout": (customer_summary(source.transactions, as_of=as_of,
                                     calibration_end=calibration_end),
                    ["customer_id"]),
        "history_summary": (summary_of(history, as_of=as_of), ["customer_id"]),
        "history_holdout": (split_of(history, as_of=as_of, calibration_end=calibration_end),
                            ["customer_id"]),
        "features": (features, ["customer_id"]),
        "rfm": (rfm_scores(features.filter(features.orders > 0)), ["customer_id"]),
        "interactions": (interaction_features(source.interactions, as_of=as_of),
                         ["customer_id"]),
        "memberships": (membership_features(source.memberships, as_of=as_of),
                        ["customer_id"]),
        "cohorts": (cohort_retention(source.transactions, source.customers, as_of=as_of),
                    ["cohort", "period_number"]),
        "repeat": (repeat_purchase_rate(source.transactions, as_of=as_of), ["customers"]),
        "monthly": (monthly_activity(source.transactions, months=24), ["month"]),
        "totals": (transaction_totals(source.transactions), ["orders"]),
        "monthly_window": (monthly_activity(source.transactions, months=2), ["month"]),
        "relationship_events": (event_inputs(source.interactions, source.transactions,
                                             source.lines, as_of=as_of), ["customer_id"]),
        "category_spend": (category_spend(source.transactions, source.lines, source.products,
                                          as_of=as_of), ["customer_id", "category"]),
        "relationship_inputs": (relationship_inputs(source, as_of=as_of), ["customer_id"]),
        **{f"loyalty_{members}": (earning.expression(
            source, Programme.model_validate({
                "programme": {"members": members, "points_per_currency_unit": 1.5},
                "frequency_bonus": {"every_nth_order": 2, "points": 25}}),
            until=datetime(2024, 6, 30, 23, 59, 59, tzinfo=UTC),
            earliest=datetime(2023, 6, 30, 23, 59, 59, tzinfo=UTC)), ["kind", "transaction_id"])
           for members in ("all", "enrolled")},
    }
    return {
        name: source.backend.to_pandas(expr).sort_values(keys).reset_index(drop=True)
        for name, (expr, keys) in expressions.items()
    }


def _sqlite_store(home: Path) -> Any:
    settings = Settings(home=home)
    store = build_engine(settings.resolved_database_url)
    upgrade(store)
    crafted.load(store)
    crafted.load_attributes(store)
    return settings, store


@pytest.fixture(scope="module", params=ENGINES)
def engine_results(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[
                       tuple[str, dict[str, pd.DataFrame]]]:
    name: str = request.param
    home = tmp_path_factory.mktemp(f"analytics-{name}") / ".kithkin"
    if name == "postgres":
        server: str = request.getfixturevalue("pg_server")
        database = f"kithkin_test_{uuid.uuid4().hex[:12]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        url = server.rsplit("/", 1)[0] + f"/{database}"
        store = build_engine(url)
        try:
            upgrade(store)
            crafted.load(store)
            crafted.load_attributes(store)
            settings = Settings(home=home, database_url=url, analytics_engine="postgres")
            source = analytics_engine.connect_postgres(settings, store)
            yield name, evaluate(source)
            source.backend.disconnect()
        finally:
            store.dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()
        return
    settings, store = _sqlite_store(home)
    try:
        if name == "pyspark":
            session = request.getfixturevalue("spark_session")
            source = analytics_engine.connect_pyspark(settings, store, session=session)
        else:
            source = analytics_engine.connect_duckdb(settings, store)
        yield name, evaluate(source)
    finally:
        store.dispose()


@pytest.fixture(scope="module")
def duckdb_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """The reference every other engine must reproduce exactly."""
    settings, store = _sqlite_store(tmp_path_factory.mktemp("analytics-ref") / ".kithkin")
    try:
        return evaluate(analytics_engine.connect_duckdb(settings, store))
    finally:
        store.dispose()
