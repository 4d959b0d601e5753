"""kithkin's CLV path, as `kithkin refresh` runs it, vs lifetimes: summary, fits, scores.

Datasets: the CDNOW sample (39-week calibration, in days) and simulated Pareto/NBD
purchase processes with 100k and 1M customers (about 10 transactions each), generated
vectorised with NumPy and cached in benchmarks/data/. Each log is stored the way the
refresh finds it: a Parquet snapshot directory in the snapshot's schema
(``kithkin.analytics.snapshot.SPECS``), transactions in id order (= time order, as a store
fills up), the other tables empty. lifetimes reads the same transactions file.

Timed, per library, on the same transactions:

- kithkin, the product functions only: ``analytics.engine.open_duckdb`` (the DuckDB engine
  over the snapshot), ``analytics.refresh.summary_frame`` (the Ibis summary on DuckDB, to
  pandas), ``analytics.models.fit_and_predict`` (BG/NBD and Gamma-Gamma fits, then P(alive),
  expected purchases in 90 days, expected spend and 12-month discounted CLV for every
  customer; its own timings split fits from scoring). Median of ``--repeat`` runs.
- lifetimes: pandas read + ``summary_data_from_transaction_data``, ``BetaGeoFitter`` and
  ``GammaGammaFitter`` fits, then P(alive), expected purchases and CLV (30-day steps, 1 %
  monthly discount; kithkin is given the same horizon and rate). One run, in a child
  process with a time limit (``--lifetimes-timeout``); steps it did not finish are cut.

Both summaries are checked equal (rtol 1e-9) and both fits' log-likelihoods are evaluated
with the same function on the same summary. Also writes the CDNOW calibration/holdout
table and plot (benchmarks/results/clv_holdout.svg).

Usage: .venv/bin/python benchmarks/clv_vs_lifetimes.py [--quick] [--sizes 100000 1000000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import queue
import resource
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
RESULTS = ROOT / "results"
EPOCH = date(2023, 1, 1)
OBSERVATION_DAYS = 730
ACQUISITION_DAYS = 365
HORIZON_DAYS = 90
CLV_MONTHS = 12
MONTHLY_DISCOUNT = 0.01
MARGIN = 1.0
OPEN = "open the snapshot (DuckDB)"
STEPS = (OPEN, "summary", "fit BG/NBD", "fit Gamma-Gamma", "score", "total")
SCORE_WITHOUT_CLV = "score without CLV"
SUMMARY_COLUMNS = ("frequency", "recency", "T", "monetary_value")
# Simulation truth (per day): Pareto/NBD purchasing, Gamma-Gamma spend.
TRUE_R, TRUE_ALPHA, TRUE_S, TRUE_BETA = 0.9, 25.0, 0.8, 120.0
TRUE_P, TRUE_Q, TRUE_GAMMA = 6.0, 3.5, 15.0


@dataclass
class Run:
    """Timings (seconds) per step and fitted parameters of one library on one dataset."""

    steps: dict[str, float] = field(default_factory=dict)
    bg_params: dict[str, float] | None = None
    gg_params: dict[str, float] | None = None
    customers: int = 0
    transactions: int = 0
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- data
SVG_COLOURS = ("#222222", "#1f77b4", "#d62728", "#2ca02c")


def svg_line_chart(series: dict[str, list[float]], x_labels: list[str], *, title: str,
                   x_title: str, y_title: str, width: int = 720, height: int = 420) -> str:
    """A self-contained SVG line chart: no JavaScript, no CDN, readable in any viewer."""
    left, right, top, bottom = 60, 150, 40, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    y_max = max(max(values) for values in series.values()) * 1.1 or 1.0
    n = len(x_labels)

    def point(i: int, value: float) -> tuple[float, float]:
        return (left + plot_w * i / max(n - 1, 1), top + plot_h * (1 - value / y_max))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12"><rect width="100%" height="100%" '
             f'fill="white"/><text x="{width / 2}" y="22" text-anchor="middle" '
             f'font-size="14">{title}</text>']
    for k in range(6):
        value = y_max * k / 5
        y = top + plot_h * (1 - k / 5)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#ddd"/><text x="{left - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{value:.1f}</text>')
    for i, label in enumerate(x_labels):
        x, _ = point(i, 0)
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 18}" '
                     f'text-anchor="middle">{label}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 10}" '
                 f'text-anchor="middle">{x_title}</text>')
    parts.append(f'<text transform="translate(16 {top + plot_h / 2}) rotate(-90)" '
                 f'text-anchor="middle">{y_title}</text>')
    for j, (name, values) in enumerate(series.items()):
        colour = SVG_COLOURS[j % len(SVG_COLOURS)]
        dash = ' stroke-dasharray="6 4"' if j == 0 else ""
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in
                        (point(i, v) for i, v in enumerate(values)))
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                     f'stroke-width="2"{dash}/>')
        ly = top + 16 * j + 10
        parts.append(f'<line x1="{left + plot_w + 12}" x2="{left + plot_w + 36}" y1="{ly}" '
                     f'y2="{ly}" stroke="{colour}" stroke-width="2"{dash}/><text '
                     f'x="{left + plot_w + 42}" y="{ly + 4}">{name}</text>')
    parts.append("</svg>")
    return "".join(parts)


def simulate(customers: int, seed: int) -> Path:
    """Write (customer_id, ordered_at, amount) for a Pareto/NBD + Gamma-Gamma population."""
    path = DATA / f"clv_sim_{customers}_{seed}_{TRUE_ALPHA:g}.parquet"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    birth = rng.uniform(0, ACQUISITION_DAYS, customers)
    rate = rng.gamma(TRUE_R, 1.0 / TRUE_ALPHA, customers)
    death_rate = rng.gamma(TRUE_S, 1.0 / TRUE_BETA, customers)
    lifetime = rng.exponential(1.0 / death_rate)
    active = np.minimum(lifetime, OBSERVATION_DAYS - birth)
    repeats = rng.poisson(rate * active)
    counts = repeats + 1
    owner = np.repeat(np.arange(customers), counts)
    first = np.zeros(owner.size, dtype=bool)
    first[np.cumsum(counts) - counts] = True
    offset = np.where(first, 0.0, rng.uniform(0.0, 1.0, owner.size) * active[owner])
    moment = birth[owner] + offset
    nu = rng.gamma(TRUE_Q, 1.0 / TRUE_GAMMA, customers)
    amount = np.round(rng.gamma(TRUE_P, 1.0, owner.size) / nu[owner], 2) + 0.01
    ordered_at = (np.datetime64(EPOCH, "s")
                  + (moment * 86_400).astype("timedelta64[s]")).astype("datetime64[us]")
    table = pa.table({"customer_id": owner.astype(np.int64), "ordered_at": ordered_at,
                      "amount": amount})
    pq.write_table(table, path)
    return path


def cdnow() -> tuple[Path, date]:
    """The CDNOW sample as (customer_id, ordered_at, amount) Parquet; as-of 1997-09-30."""
    import lifetimes.datasets

    path = DATA / "clv_cdnow.parquet"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        raw = pd.read_csv(Path(lifetimes.datasets.__file__).parent / "CDNOW_sample.txt",
                          sep=r"\s+", header=None, dtype={"date": str},
                          names=["master_id", "customer_id", "date", "quantity", "amount"])
        frame = pd.DataFrame({
            "customer_id": raw["customer_id"].astype("int64"),
            "ordered_at": pd.to_datetime(raw["date"], format="%Y%m%d").astype("datetime64[us]"),
            "amount": raw["amount"].astype("float64"),
        })
        # lifetimes keeps zero-value orders; kithkin's summary drops them (not purchases).
        frame = frame[frame["amount"] > 0]
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return path, date(1997, 9, 30)


def snapshot_of(log: Path) -> Path:
    """``log`` as the DuckDB engine finds a store's transactions: a snapshot directory with
    the transactions in the snapshot's schema and id order (ids follow the order time), the
    other tables empty. Cached next to the log."""
    from kithkin.analytics import snapshot

    directory = log.with_name(f"{log.stem}-snapshot")
    transactions = directory / "transactions" / "part-00000.parquet"
    if transactions.exists() and transactions.stat().st_mtime >= log.stat().st_mtime:
        return directory
    table = pq.read_table(log)
    table = table.take(np.argsort(table.column("ordered_at").to_numpy(), kind="stable"))
    rows = table.num_rows
    columns = {
        "id": pa.array(np.arange(1, rows + 1, dtype=np.int64)),
        "customer_id": table.column("customer_id").cast(pa.int64()),
        "ordered_at": table.column("ordered_at").cast(snapshot.UTC_TIMESTAMP),
        "amount": table.column("amount").cast(pa.float64()),
        "cost": pa.nulls(rows, pa.float64()),
        "discount": pa.nulls(rows, pa.float64()),
        "channel": pa.nulls(rows, pa.string()),
    }
    for spec in snapshot.SPECS:
        (directory / spec.name).mkdir(parents=True, exist_ok=True)
        part = (pa.table(columns, schema=spec.schema) if spec.name == "transactions"
                else spec.schema.empty_table())
        pq.write_table(part, directory / spec.name / "part-00000.parquet", compression="zstd")
    return directory


# --------------------------------------------------------------------------- kithkin
def model_options() -> Any:
    """The refresh's model options with lifetimes' CLV convention (12 steps of 30 days,
    1 % per month): the same horizon and discounting for both libraries."""
    from kithkin.analytics.fitting import ModelOptions

    return ModelOptions(horizon_days=30.0 * CLV_MONTHS,
                        discount_rate_annual=(1 + MONTHLY_DISCOUNT) ** (365.25 / 30) - 1,
                        margin=MARGIN)


def kithkin_once(snapshot_dir: Path, as_of: date) -> tuple[Run, pd.DataFrame]:
    """The refresh's CLV path, product functions only: engine, summary, fits, scores."""
    from kithkin.analytics import engine as analytics_engine
    from kithkin.analytics import fitting as models
    from kithkin.analytics import refresh

    run = Run()
    options = model_options()
    start = time.perf_counter()
    source = analytics_engine.open_duckdb(snapshot_dir)
    run.steps[OPEN] = time.perf_counter() - start
    start = time.perf_counter()
    # as the refresh: the one aggregation over the orders, then its summary
    history = refresh.order_history(source, as_of=as_of, holdout_days=options.holdout_days)
    summary = refresh.summary_frame(source, as_of=as_of, history=history)
    run.steps["summary"] = time.perf_counter() - start
    analytics_engine.release(source, history)
    fitted = models.fit_and_predict(summary, margin=MARGIN, options=options)
    run.steps.update(fitted.timings)
    if fitted.error:
        run.notes.append(fitted.error)
    for key, name in (("bg_nbd", "bg_params"), ("gamma_gamma", "gg_params")):
        if key in fitted.params:
            setattr(run, name, fitted.params[key]["params"])
    run.customers = len(summary)
    source.backend.disconnect()
    return run, summary


def run_kithkin(snapshot_dir: Path, as_of: date, repeat: int) -> tuple[Run, pd.DataFrame]:
    """The median of ``repeat`` runs, step by step (the machine is shared)."""
    runs = [kithkin_once(snapshot_dir, as_of) for _ in range(repeat)]
    run, summary = runs[0]
    for step in list(run.steps):
        run.steps[step] = statistics.median(r.steps.get(step, float("nan")) for r, _ in runs)
    run.steps["total"] = statistics.median(sum(r.steps[s] for s in STEPS[:-1]) for r, _ in runs)
    return run, summary


# --------------------------------------------------------------------------- lifetimes
def _lifetimes_worker(path: str, as_of: str, summary_out: str, out: Any) -> None:
    warnings.simplefilter("ignore")
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    start = time.perf_counter()
    transactions = pd.read_parquet(path, columns=["customer_id", "ordered_at", "amount"])
    transactions["ordered_at"] = transactions["ordered_at"].dt.tz_localize(None)
    summary = summary_data_from_transaction_data(
        transactions, "customer_id", "ordered_at", monetary_value_col="amount",
        observation_period_end=as_of, freq="D")
    out.put(("step", "summary", time.perf_counter() - start, len(summary)))
    start = time.perf_counter()
    bgf = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    out.put(("step", "fit BG/NBD", time.perf_counter() - start, len(summary)))
    out.put(("bg", dict(bgf.params_)))
    start = time.perf_counter()
    repeat = summary[summary["frequency"] > 0]
    ggf: GammaGammaFitter | None = None
    try:
        ggf = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
        out.put(("gg", dict(ggf.params_)))
    except Exception as exc:
        out.put(("note", f"Gamma-Gamma fit failed ({type(exc).__name__}: "
                         f"{str(exc).strip().splitlines()[0]}), so no CLV was scored"))
    out.put(("step", "fit Gamma-Gamma", time.perf_counter() - start, len(summary)))
    start = time.perf_counter()
    x, tx, age = summary["frequency"], summary["recency"], summary["T"]
    bgf.conditional_probability_alive(x, tx, age)
    bgf.conditional_expected_number_of_purchases_up_to_time(HORIZON_DAYS, x, tx, age)
    out.put(("step", SCORE_WITHOUT_CLV, time.perf_counter() - start, len(summary)))
    if ggf is not None:
        ggf.customer_lifetime_value(bgf, x, tx, age, summary["monetary_value"],
                                    time=CLV_MONTHS, discount_rate=MONTHLY_DISCOUNT, freq="D")
    out.put(("step", "score", time.perf_counter() - start, len(summary)))
    summary.rename_axis("customer_id").reset_index().to_parquet(summary_out)  # not timed
    out.put(("done",))


def run_lifetimes(path: Path, as_of: date, timeout: float) -> tuple[Run, pd.DataFrame | None]:
    """lifetimes in a child process; its summary comes back through a Parquet file."""
    context = mp.get_context("spawn")
    messages = context.Queue()
    with tempfile.TemporaryDirectory() as folder:
        summary_out = Path(folder) / "summary.parquet"
        worker = context.Process(target=_lifetimes_worker, args=(
            str(path), as_of.isoformat(), str(summary_out), messages))
        run = Run()
        deadline = time.monotonic() + timeout
        worker.start()
        finished = False
        while not finished:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                run.notes.append(f"cut: stopped after the {timeout:.0f} s limit")
                break
            try:
                message = messages.get(timeout=min(remaining, 5.0))
            except queue.Empty:
                if not worker.is_alive():
                    run.notes.append(f"child exited with code {worker.exitcode}")
                    break
                continue
            if message[0] == "step":
                run.steps[message[1]] = message[2]
                run.customers = message[3]
            elif message[0] == "bg":
                run.bg_params = {k: float(v) for k, v in message[1].items()}
            elif message[0] == "gg":
                run.gg_params = {"p": float(message[1]["p"]), "q": float(message[1]["q"]),
                                 "gamma": float(message[1]["v"])}
            elif message[0] == "note":
                run.notes.append(message[1])
            else:
                finished = True
        if worker.is_alive():
            worker.terminate()
        worker.join()
        summary = pd.read_parquet(summary_out) if finished else None
    return run, summary


def compare_summaries(ours: pd.DataFrame, theirs: pd.DataFrame | None) -> str:
    """'equal' when both libraries' summaries agree (rtol 1e-9), else what differs."""
    if theirs is None:
        return "not compared (lifetimes did not finish)"
    ours = ours.sort_values("customer_id").reset_index(drop=True)
    theirs = theirs.sort_values("customer_id").reset_index(drop=True)
    if not np.array_equal(ours["customer_id"].to_numpy(), theirs["customer_id"].to_numpy()):
        return f"customers differ ({len(ours):,} vs {len(theirs):,})"
    for column in SUMMARY_COLUMNS:
        if not np.allclose(ours[column].to_numpy(dtype=float),
                           theirs[column].to_numpy(dtype=float), rtol=1e-9, atol=1e-9):
            return f"{column} differs"
    return "equal"


# --------------------------------------------------------------------------- report
def log_likelihoods(summary: pd.DataFrame, run: Run) -> tuple[float, float]:
    """BG/NBD and Gamma-Gamma log-likelihood of ``run``'s parameters on ``summary``."""
    from kithkin.clv import BetaGeo, GammaGamma

    x, tx, age, spend = (summary[c].to_numpy() for c in ("frequency", "recency", "T",
                                                        "monetary_value"))
    bg = gg = float("nan")
    if run.bg_params is not None:
        bg = float(BetaGeo.from_params(run.bg_params).log_likelihood(
            frequency=x, recency=tx, T=age).sum())
    if run.gg_params is not None:
        repeat = x > 0
        gg = float(GammaGamma.from_params(run.gg_params).log_likelihood(
            frequency=x[repeat], monetary_value=spend[repeat]).sum())
    return bg, gg


def holdout_report() -> str:
    """CDNOW weeks 1-39 vs 40-78 for the three transaction models; writes the plot."""
    import lifetimes.datasets

    from kithkin.clv import BetaGeo, ModifiedBetaGeo, ParetoNBD
    from kithkin.clv.diagnostics import calibration_holdout_summary, holdout_by_frequency

    raw = pd.read_csv(Path(lifetimes.datasets.__file__).parent / "CDNOW_sample.txt",
                      sep=r"\s+", header=None, dtype={"date": str},
                      names=["master_id", "customer_id", "date", "quantity", "amount"])
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    data = calibration_holdout_summary(raw, customer_column="customer_id", date_column="date",
                                       calibration_end="1997-09-30", holdout_end="1998-06-30",
                                       time_unit_days=7)
    columns: dict[str, pd.Series] = {}
    for cls in (BetaGeo, ParetoNBD, ModifiedBetaGeo):
        model = cls().fit(frequency=data["frequency"], recency=data["recency"], T=data["T"])
        table = holdout_by_frequency(model, frequency=data["frequency"], recency=data["recency"],
                                     T=data["T"], holdout_frequency=data["holdout_frequency"],
                                     holdout_length=39.0)
        columns.setdefault("customers", table["customers"])
        columns.setdefault("actual", table["actual_mean"])
        columns[cls.__name__] = table["predicted_mean"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    series = {name: columns[name].iloc[:-1].tolist()
              for name in ("actual", "BetaGeo", "ParetoNBD", "ModifiedBetaGeo")}
    (RESULTS / "clv_holdout.svg").write_text(svg_line_chart(
        series, [str(x) for x in columns["actual"].index[:-1]],
        title="CDNOW: mean purchases in weeks 40-78 by weeks 1-39 frequency",
        x_title="repeat purchases in calibration", y_title="mean holdout purchases"))
    table = pd.DataFrame(columns)
    lines = ["| calibration frequency | customers | actual | " +
             " | ".join(c for c in table.columns[2:]) + " |",
             "|---|---:|---:|" + "---:|" * (len(table.columns) - 2)]
    for label, row in table.iterrows():
        lines.append(f"| {label} | {int(row['customers'])} | {row['actual']:.3f} | " +
                     " | ".join(f"{row[c]:.3f}" for c in table.columns[2:]) + " |")
    return "\n".join(lines)


def _fmt(seconds: float | None) -> str:
    return "cut" if seconds is None else f"{seconds:.2f}"


@dataclass
class Row:
    """One dataset's results."""

    name: str
    ours: Run
    theirs: Run
    ll_ours: tuple[float, float]
    ll_theirs: tuple[float, float]
    summaries: str


def headline(rows: list[Row]) -> str:
    """The largest dataset's end-to-end ratio, with both totals."""
    row = rows[-1]
    ours, theirs = row.ours.steps.get("total"), row.theirs.steps.get("total")
    if not ours or not theirs:
        return f"**{row.name}: lifetimes did not finish ({'; '.join(row.theirs.notes)})**"
    return (f"**{row.name} customers: kithkin's CLV path as the refresh runs it (snapshot "
            f"-> Ibis summary on DuckDB -> fits -> scores) {ours:.2f} s, lifetimes "
            f"{theirs:.2f} s: {theirs / ours:.1f}x** (target >= 30x)")


def report(rows: list[Row], args: argparse.Namespace, load_before: tuple[float, ...],
           holdout: str) -> str:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    load_after = os.getloadavg()
    out = [
        "# CLV: kithkin's refresh path vs lifetimes",
        "",
        "Command: `" + " ".join(["flock /tmp/kithkin-bench.lock .venv/bin/python "
                                 "benchmarks/clv_vs_lifetimes.py", *sys.argv[1:]]) + "`",
        "",
        headline(rows),
        "",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, "
        f"nproc {os.cpu_count()}, load average before {load_before[0]:.2f} / "
        f"{load_before[1]:.2f} / {load_before[2]:.2f}, after {load_after[0]:.2f} / "
        f"{load_after[1]:.2f} / {load_after[2]:.2f} (other engineers share the machine).",
        f"Peak RSS: this process (kithkin) {own:.0f} MiB; lifetimes child processes "
        f"{children:.0f} MiB. lifetimes time limit per dataset: {args.lifetimes_timeout:.0f} s.",
        "",
        "kithkin's steps are the product functions `kithkin refresh` calls, nothing else: "
        f"'{OPEN}' = `analytics.engine.open_duckdb` on the snapshot directory; summary = "
        "`analytics.refresh.summary_frame` (the Ibis summary on DuckDB, to pandas); fits and "
        "score = `analytics.models.fit_and_predict` (its own timings; score = P(alive), "
        "expected purchases in 90 days, expected spend and 12-month CLV for every customer). "
        f"kithkin figures are the median of {args.repeat} runs, lifetimes' of one. "
        "lifetimes: summary = pandas read of the same transactions file + "
        "`summary_data_from_transaction_data`; score = P(alive), expected purchases in 90 "
        "days and CLV (without CLV when its Gamma-Gamma fit fails). Times in seconds; "
        "rows/s: transactions per second for the summary, customers per second otherwise.",
        "",
        "| dataset | transactions | customers | step | kithkin s | lifetimes s | speed-up "
        "| kithkin rows/s |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        ours, theirs = row.ours, row.theirs
        for step in STEPS:
            a, b = ours.steps.get(step), theirs.steps.get(step)
            ratio = f"{b / a:.1f}x" if a and b else "-"
            count = ours.transactions if step == "summary" else ours.customers
            per_second = f"{int(count / a):,}" if a else "-"
            bold = "**" if step == "total" else ""
            out.append(f"| {row.name} | {ours.transactions:,} | {ours.customers:,} | "
                       f"{bold}{step}{bold} | {bold}{_fmt(a)}{bold} | "
                       f"{'-' if step == OPEN else _fmt(b)} | {bold}{ratio}{bold} | "
                       f"{per_second} |")
    out += ["", "Summaries (kithkin's Ibis summary vs lifetimes', every customer, rtol 1e-9): "
            + "; ".join(f"{row.name} {row.summaries}" for row in rows) + ".",
            "", "Log-likelihoods (difference = kithkin - lifetimes; >= 0 means kithkin's fit is "
            "at least as good):", "",
            "| dataset | BG/NBD LL kithkin | BG/NBD LL lifetimes | difference | Gamma-Gamma LL "
            "kithkin | Gamma-Gamma LL lifetimes | difference | lifetimes note |",
            "|---|---:|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        (bg_ours, gg_ours), (bg_theirs, gg_theirs) = row.ll_ours, row.ll_theirs
        out.append(f"| {row.name} | {bg_ours:.2f} | {bg_theirs:.2f} | "
                   f"{bg_ours - bg_theirs:.2g} | {gg_ours:.2f} | {gg_theirs:.2f} | "
                   f"{gg_ours - gg_theirs:.2g} | "
                   f"{'; '.join(row.theirs.notes) or 'completed'} |")
    out += ["", "BG/NBD estimates (kithkin / lifetimes):", ""]
    for row in rows:
        theirs_bg = row.theirs.bg_params
        shown = ", ".join(
            f"{k} {v:.4g} / " + (f"{theirs_bg[k]:.4g}" if theirs_bg else "-")
            for k, v in (row.ours.bg_params or {}).items())
        out.append(f"- {row.name}: {shown}")
    out += ["", f"Simulation truth (per day): r={TRUE_R}, alpha={TRUE_ALPHA}, s={TRUE_S}, "
            f"beta={TRUE_BETA} (Pareto/NBD), spend p={TRUE_P}, q={TRUE_Q}, gamma={TRUE_GAMMA}; "
            f"acquisition over {ACQUISITION_DAYS} days, observed to day {OBSERVATION_DAYS}.",
            "", "## CDNOW calibration (weeks 1-39) vs holdout (weeks 40-78)", "",
            "Mean holdout purchases per customer by calibration repeat purchases; plot: "
            "benchmarks/results/clv_holdout.svg.", "", holdout, ""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--quick", action="store_true", help="sizes 2,000 and 20,000")
    parser.add_argument("--repeat", type=int, default=3,
                        help="kithkin runs per dataset (the median is reported)")
    parser.add_argument("--lifetimes-timeout", type=float, default=1800.0,
                        help="seconds lifetimes may take per dataset before it is cut")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, default=None,
                        help="default benchmarks/results/clv_vs_lifetimes[_quick].md")
    args = parser.parse_args()
    if args.output is None:
        args.output = RESULTS / f"clv_vs_lifetimes{'_quick' if args.quick else ''}.md"
    sizes = [2_000, 20_000] if args.quick else args.sizes
    load_before = os.getloadavg()
    datasets = [("CDNOW", *cdnow())]
    datasets += [(f"simulated {n:,}", simulate(n, args.seed),
                  EPOCH + timedelta(days=OBSERVATION_DAYS)) for n in sizes]
    rows = []
    for name, log, as_of in datasets:
        directory = snapshot_of(log)
        transactions_file = directory / "transactions" / "part-00000.parquet"
        transactions = pq.ParquetFile(transactions_file).metadata.num_rows
        print(f"{name}: {transactions:,} transactions", flush=True)
        ours, summary = run_kithkin(directory, as_of, args.repeat)
        theirs, their_summary = run_lifetimes(transactions_file, as_of, args.lifetimes_timeout)
        for run in (ours, theirs):
            run.transactions = transactions
        if all(s in theirs.steps for s in STEPS[1:-1]):
            theirs.steps["total"] = sum(theirs.steps[s] for s in STEPS[1:-1])
        print(f"  kithkin {ours.steps} {ours.notes}\n  lifetimes {theirs.steps} {theirs.notes}",
              flush=True)
        rows.append(Row(name, ours, theirs, log_likelihoods(summary, ours),
                        log_likelihoods(summary, theirs),
                        compare_summaries(summary, their_summary)))
    text = report(rows, args, load_before, holdout_report())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
