"""The relationship engine on synthetic per-customer metrics: what it adds to a refresh.

Steps, timed on the same 1M synthetic metric rows (vectorised NumPy generation, cached as
Parquet in benchmarks/data/):

1. engine without evidence: stages in the three built-in models, health scorecard,
   bonds, value tiers and segment levels (``kithkin.relationships.engine.compute``).
2. engine with evidence: the same plus the JSON evidence per customer and model.
3. needs segments: category shares (5 categories) -> k-means with k by silhouette.
4. store: ``service.refresh`` into a fresh SQLite store (``--store-rows`` customers,
   100k and 1M by default), twice: the first writes every row, the second follows a
   drift of every tenth customer (+120 days since the last purchase, so ~10 % of the
   rows change evidence and some move stage); only changed rows are rewritten.
   Each refresh reports its seconds, the seconds of its commit (the WAL checkpoint of
   what it wrote) and the rows it wrote (SQLite's change counter: inserts, updates and
   deletes of the transaction, staged copies included).

Side by side, the vectorised rule evaluation is compared with a row-by-row interpreter
of the same rules (the way a per-customer loop would assign stages) on ``--rowwise-rows``
customers, reported as rows/s.

Each run appends a dated section to benchmarks/results/relationships.md (``--output -``:
print only). ``--store-only`` skips the engine and row-by-row steps.

Usage: .venv/bin/python benchmarks/relationships.py [--quick] [--rows 1000000]
       [--store-rows 100000 1000000] [--store-only] [--output FILE|-]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
RESULTS = ROOT / "results"
CATEGORIES = ("books", "music", "garden", "toys", "food")


def synthetic_metrics(rows: int, seed: int = 11) -> pd.DataFrame:
    """Plausible metrics: most customers buy once or twice, a few are deeply engaged."""
    rng = np.random.default_rng(seed)
    orders = rng.negative_binomial(1, 0.35, rows)
    bought = orders > 0
    tenure = np.where(bought, rng.integers(1, 1500, rows), 0).astype(float)
    days_since = np.where(bought, np.minimum(tenure, rng.exponential(200, rows)), np.nan)
    revenue = orders * rng.gamma(2.0, 40.0, rows)
    margin = revenue * rng.normal(0.25, 0.12, rows)
    interactions = rng.poisson(0.8, rows)
    inbound = rng.binomial(interactions, 0.5)
    complaints = rng.poisson(0.15, rows)
    resolved = rng.binomial(complaints, 0.8)
    nps = np.where(rng.random(rows) < 0.3, rng.integers(0, 11, rows), np.nan)
    frame = pd.DataFrame({
        "customer_id": np.arange(1, rows + 1),
        "orders": orders, "frequency": np.maximum(orders - 1, 0), "revenue": revenue,
        "margin": margin, "tenure_days": tenure, "days_since_last_purchase": days_since,
        "categories_bought": np.minimum(orders, rng.integers(1, 6, rows)),
        "products_bought": orders * 2, "p_alive": np.where(bought, rng.beta(2, 2, rows),
                                                           np.nan),
        "clv": np.maximum(margin, 0) * rng.uniform(0.5, 3, rows),
        "interactions_90d": interactions, "inbound_90d": inbound,
        "outbound_90d": interactions - inbound,
        "two_way_ratio": np.where(interactions > 0, rng.random(rows), np.nan),
        "complaints": complaints, "complaints_open": complaints - resolved,
        "complaints_resolved": resolved, "last_nps": nps,
        "last_csat": np.where(rng.random(rows) < 0.2, rng.integers(1, 6, rows), np.nan),
        "satisfaction_trend": rng.normal(0, 0.3, rows),
        "referrals": rng.poisson(0.1, rows), "reviews": rng.poisson(0.2, rows),
        "ideas": rng.poisson(0.03, rows), "service_requests": rng.poisson(0.3, rows),
        "active_memberships": rng.binomial(1, 0.2, rows),
        "has_loyalty": rng.random(rows) < 0.25, "has_subscription": rng.random(rows) < 0.05,
        "has_contract": rng.random(rows) < 0.03,
        "membership_tier": np.where(rng.random(rows) < 0.1, "gold", None),
        "rfm_segment": rng.choice(["champions", "loyal", "at_risk", "hibernating", "new"],
                                  rows),
        "has_preferences": rng.random(rows) < 0.15,
        "has_account_manager": rng.random(rows) < 0.01,
        "community_interactions": rng.poisson(0.05, rows),
        "bundles_bought": rng.poisson(0.2, rows),
        "customized_orders": rng.poisson(0.05, rows),
        "integrations": rng.poisson(0.01, rows), "shared_processes": rng.poisson(0.01, rows),
    })
    return frame


def synthetic_spend(metrics: pd.DataFrame, seed: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    buyers = metrics.loc[metrics["orders"] > 0, "customer_id"].to_numpy()
    taste = rng.integers(0, len(CATEGORIES), len(buyers))
    rows = []
    for offset, category in enumerate(CATEGORIES):
        weight = np.where(taste == offset, 5.0, 0.5) * rng.uniform(0.2, 1.5, len(buyers))
        rows.append(pd.DataFrame({"customer_id": buyers, "category": category,
                                  "amount": weight}))
    return pd.concat(rows, ignore_index=True)


def cached_metrics(rows: int) -> pd.DataFrame:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"relationship_metrics_{rows}.parquet"
    if not path.exists():
        synthetic_metrics(rows).to_parquet(path)
    return pd.read_parquet(path)


def rowwise_ranks(model: Any, frame: pd.DataFrame) -> list[int]:
    """A per-customer loop over the same syntax trees (the baseline); it knows the
    constructs the built-in models use: and/or/not, comparisons, metrics, literals."""
    from sqlglot import exp

    ops: dict[type[exp.Expr], Callable[[Any, Any], bool]] = {
        exp.EQ: lambda x, y: x == y, exp.NEQ: lambda x, y: x != y,
        exp.LT: lambda x, y: x < y, exp.LTE: lambda x, y: x <= y,
        exp.GT: lambda x, y: x > y, exp.GTE: lambda x, y: x >= y}

    def value(node: exp.Expr, row: dict[str, Any]) -> Any:
        if isinstance(node, exp.Literal):
            return node.this if node.is_string else float(node.this)
        if isinstance(node, exp.Boolean):
            return bool(node.this)
        if isinstance(node, exp.Column):
            found = row.get(node.name)
            return None if found is None or found != found else found
        return truth(node, row)

    def truth(node: exp.Expr, row: dict[str, Any]) -> bool:
        if isinstance(node, exp.Paren):
            return truth(node.this, row)
        if isinstance(node, exp.And):
            return truth(node.this, row) and truth(node.expression, row)
        if isinstance(node, exp.Or):
            return truth(node.this, row) or truth(node.expression, row)
        if isinstance(node, exp.Not):
            return not truth(node.this, row)
        if type(node) in ops:
            a, b = value(node.this, row), value(node.expression, row)
            return a is not None and b is not None and ops[type(node)](a, b)
        if isinstance(node, exp.Column | exp.Boolean):
            return bool(value(node, row))
        raise NotImplementedError(f"the row-by-row baseline has no {node.key}")

    ranks = []
    for row in frame.to_dict("records"):
        rank = 0
        for stage in model.stages[1:]:
            if truth(stage.rule.tree, row):
                rank = stage.rank
        ranks.append(rank)
    return ranks


def timed(step: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = step()
    return time.perf_counter() - start, result


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True)
class StoredRefresh:
    seconds: float
    commit_seconds: float
    rows_written: int
    table_rows: dict[str, int]  # rows in each relationship table after the commit


STORED_TABLES = ("customer_stage", "stage_change", "relationship_profile")


def store_refreshes(metrics: pd.DataFrame) -> tuple[StoredRefresh, StoredRefresh, str]:
    """Two refreshes into a fresh SQLite store; returns what each took and wrote, and the
    second refresh's moves and step timings."""
    from sqlalchemy import insert, text
    from sqlalchemy.orm import Session

    from kithkin.config import get_settings
    from kithkin.customers.models import Customer
    from kithkin.database.core import build_engine
    from kithkin.database.manage import upgrade
    from kithkin.relationships import service

    def refresh(session: Session, as_of: date, frame: pd.DataFrame) -> tuple[
            StoredRefresh, Any]:
        raw = session.connection().connection.driver_connection
        before = raw.total_changes  # type: ignore[union-attr]
        seconds, report = timed(lambda: service.refresh(
            session=session, settings=get_settings(), as_of=as_of, metrics=frame,
            derive_inputs=False))
        written = raw.total_changes - before  # type: ignore[union-attr]
        commit_seconds, _ = timed(session.commit)
        counts = {name: int(session.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())
                  for name in STORED_TABLES}
        session.commit()
        return StoredRefresh(seconds, commit_seconds, written, counts), report

    with tempfile.TemporaryDirectory(dir=DATA) as folder:
        os.environ["KITHKIN_HOME"] = folder
        get_settings.cache_clear()
        engine = build_engine(f"sqlite:///{folder}/bench.db")
        upgrade(engine)
        with Session(engine) as session:
            ids = metrics["customer_id"].tolist()
            for start in range(0, len(ids), 50_000):
                session.execute(insert(Customer), [{"id": i} for i in ids[start:start + 50_000]])
            session.commit()
            first, _ = refresh(session, date(2026, 1, 1), metrics)
            every_tenth = np.arange(len(metrics)) % 10 == 0
            drifted = metrics.assign(days_since_last_purchase=metrics[
                "days_since_last_purchase"] + np.where(every_tenth, 120, 0))
            second, report = refresh(session, date(2026, 4, 1), drifted)
        engine.dispose()
    moves = {m.model: m.moved_up + m.moved_down for m in report.models}
    return first, second, f"moves {moves}, timings {report.timings}"


def engine_steps(metrics: pd.DataFrame, rowwise_rows: int) -> tuple[
        list[tuple[str, int, float]], list[str]]:
    """The engine on ``metrics`` and the vectorised / row-by-row comparison."""
    from kithkin.relationships.assignment import assign_ranks
    from kithkin.relationships.definitions import builtin_models
    from kithkin.relationships.engine import compute
    from kithkin.relationships.rules import Evaluator
    from kithkin.relationships.tiers import category_shares, needs_segments
    from kithkin.relationships.workspace import RelationshipConfig

    models = list(builtin_models().values())
    config = RelationshipConfig()
    results: list[tuple[str, int, float]] = []
    seconds, _ = timed(lambda: compute(metrics, models=models, config=config,
                                       with_evidence=False))
    results.append(("engine, no evidence (3 models, health, bonds, tiers, levels)",
                     len(metrics), seconds))
    seconds, engine = timed(lambda: compute(metrics, models=models, config=config))
    results.append(("engine with JSON evidence", len(metrics), seconds))
    spend = synthetic_spend(metrics)
    seconds, segments = timed(lambda: needs_segments(category_shares(spend),
                                                     config.needs))
    results.append((f"needs segments (k-means, k={segments.nunique()} by silhouette)",
                    int(segments.size), seconds))

    sample = metrics.head(rowwise_rows)
    seconds, vectorised = timed(lambda: [assign_ranks(m, Evaluator(sample)) for m in models])
    results.append(("stages, vectorised rules (3 models)", len(sample), seconds))
    seconds, rowwise = timed(lambda: [rowwise_ranks(m, sample) for m in models])
    results.append(("stages, row-by-row interpreter (3 models)", len(sample), seconds))
    if any(list(v) != r for v, r in zip(vectorised, rowwise, strict=True)):
        raise SystemExit("vectorised and row-by-row stage assignment disagree")
    journey = engine.stages["journey"]["stage"].value_counts().to_dict()
    return results, [f"Engine step timings (with evidence): {engine.timings}", "",
                     f"Journey distribution on the synthetic rows: {journey}", "",
                     f"Row-by-row comparison on {len(sample):,} rows.", ""]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--store-rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rowwise-rows", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true", help="10k rows, 5k stored/rowwise")
    parser.add_argument("--store-only", action="store_true",
                        help="only the stored refreshes (no engine or row-by-row steps)")
    parser.add_argument("--output", default=str(RESULTS / "relationships.md"),
                        help="file the dated section is appended to; - prints only")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.store_rows, args.rowwise_rows = 10_000, [5_000], 5_000

    load_before = os.getloadavg()
    generate_s, metrics = timed(lambda: cached_metrics(args.rows))
    results, engine_lines = ([], []) if args.store_only else engine_steps(
        metrics, args.rowwise_rows)

    stored_lines = ["| `service.refresh` into SQLite | customers | refresh (s) | commit (s) | "
                    "rows written | customer_stage / stage_change / relationship_profile "
                    "rows after |", "|---|---:|---:|---:|---:|---|"]
    second_runs: list[str] = []
    for size in args.store_rows:
        stored = metrics.head(size)
        first, second, detail = store_refreshes(stored)
        for name, run in (("first (all new)", first), ("second (10 % drift)", second)):
            results.append((f"service.refresh into SQLite, {name}", len(stored), run.seconds))
            stored_lines.append(
                f"| {name} | {len(stored):,} | {run.seconds:.2f} | {run.commit_seconds:.2f} | "
                f"{run.rows_written:,} | "
                f"{' / '.join(f'{run.table_rows[t]:,}' for t in STORED_TABLES)} |")
        second_runs.append(f"- {len(stored):,} customers: {detail}")

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {when}", "",
        "Command: `" + " ".join([".venv/bin/python benchmarks/relationships.py",
                                 *(argv if argv is not None else sys.argv[1:])]) + "`", "",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, "
        f"nproc {os.cpu_count()}, load average before {tuple(round(x, 2) for x in load_before)}"
        f", after {tuple(round(x, 2) for x in os.getloadavg())} (shared machine).", "",
        f"Synthetic metric rows: {len(metrics):,} (generated/loaded in {generate_s:.1f} s); "
        f"stored refreshes on {', '.join(f'{n:,}' for n in args.store_rows)}.", "",
        "| step | rows | seconds | rows/s |", "|---|---:|---:|---:|",
    ]
    for name, rows, seconds in results:
        lines.append(f"| {name} | {rows:,} | {seconds:.2f} | {rows / seconds:,.0f} |")
    lines += ["", *stored_lines, "", *engine_lines,
              "Second stored refresh (moves per model, step timings in seconds):",
              *second_runs, "", f"Peak RSS: {peak_rss_mb():,.0f} MB", ""]
    print("\n".join(lines))
    if args.output != "-":
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("a") as handle:
            handle.write("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
