"""kithkin.clv vs lifetimes, side by side: summary, BG/NBD + Gamma-Gamma fit, scoring.

Datasets: the CDNOW sample (39-week calibration, in days) and simulated Pareto/NBD
purchase processes with 100k and 1M customers (about 10 transactions each), generated
vectorised with NumPy and cached as Parquet in benchmarks/data/.

Steps, each timed for both libraries on the same transaction file:

1. summary: transaction log -> per-customer (frequency, recency, T, monetary_value).
   kithkin: ``customer_summary_from_parquet`` (pyarrow reads the file in batches, NumPy
   keeps running per-customer state; counted in the total); ``customer_summary`` (Ibis
   on DuckDB, what ``kithkin refresh`` runs) is timed too, reported on its own, and
   checked to give the same summary;
   lifetimes: pandas read + ``summary_data_from_transaction_data``.
2. fit: BG/NBD and Gamma-Gamma.
3. score: P(alive), expected purchases in 90 days, 12-month CLV (30-day steps, 1%
   monthly discount, both libraries the same convention) for every customer.

lifetimes runs in a child process with a time limit (``--lifetimes-timeout``); steps it
did not finish are reported as cut.  Both fits' log-likelihoods are evaluated with the
same function on the same summary.  Also writes the CDNOW calibration/holdout table and
plot (benchmarks/results/clv_holdout.svg).

Usage: .venv/bin/python benchmarks/clv_vs_lifetimes.py [--quick] [--sizes 100000 1000000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import queue
import resource
import sys
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
STEPS = ("summary", "fit BG/NBD", "fit Gamma-Gamma", "score", "total")
IBIS_SUMMARY = "summary (Ibis on DuckDB)"
SCORE_WITHOUT_CLV = "score without CLV"
IBIS_TOTAL = "total with the Ibis summary"
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


# --------------------------------------------------------------------------- kithkin
def run_kithkin(path: Path, as_of: date) -> tuple[Run, pd.DataFrame]:
    import ibis

    from kithkin.analytics.summary import customer_summary
    from kithkin.analytics.summary_arrow import customer_summary_from_parquet
    from kithkin.clv import BetaGeo, GammaGamma

    run = Run()
    start = time.perf_counter()
    summary = customer_summary_from_parquet(path, as_of=as_of)
    run.steps["summary"] = time.perf_counter() - start
    start = time.perf_counter()
    con = ibis.duckdb.connect()
    in_sql = customer_summary(con.read_parquet(path), as_of=as_of).to_pandas()
    run.steps[IBIS_SUMMARY] = time.perf_counter() - start
    in_sql = in_sql.sort_values("customer_id").reset_index(drop=True)
    for column in summary.columns:  # the two summaries must agree
        np.testing.assert_allclose(in_sql[column], summary[column], rtol=1e-9, atol=1e-9,
                                   err_msg=column)
    x, tx, age, spend = (summary[c].to_numpy() for c in ("frequency", "recency", "T",
                                                        "monetary_value"))
    start = time.perf_counter()
    bg = BetaGeo().fit(frequency=x, recency=tx, T=age)
    run.steps["fit BG/NBD"] = time.perf_counter() - start
    start = time.perf_counter()
    gg = GammaGamma().fit(frequency=x, monetary_value=spend)
    run.steps["fit Gamma-Gamma"] = time.perf_counter() - start
    start = time.perf_counter()
    bg.probability_alive(x, tx, age)
    bg.expected_purchases(HORIZON_DAYS, x, tx, age)
    gg.customer_lifetime_value(
        bg, frequency=x, recency=tx, T=age, monetary_value=spend,
        horizon_days=30.0 * CLV_MONTHS, margin=MARGIN, time_unit_days=1.0,
        discount_rate_annual=(1 + MONTHLY_DISCOUNT) ** (365.25 / 30) - 1,
    )
    run.steps["score"] = time.perf_counter() - start
    run.bg_params, run.gg_params, run.customers = bg.params_, gg.params_, len(summary)
    return run, summary


# --------------------------------------------------------------------------- lifetimes
def _lifetimes_worker(path: str, as_of: str, out: Any) -> None:
    warnings.simplefilter("ignore")
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    start = time.perf_counter()
    transactions = pd.read_parquet(path)
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
    out.put(("done",))


def run_lifetimes(path: Path, as_of: date, timeout: float) -> Run:
    context = mp.get_context("spawn")
    messages = context.Queue()
    worker = context.Process(target=_lifetimes_worker, args=(str(path), as_of.isoformat(),
                                                             messages))
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
    return run


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


def report(rows: list[tuple[str, Run, Run, tuple[float, float], tuple[float, float]]],
           args: argparse.Namespace, load_before: tuple[float, ...], holdout: str) -> str:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    load_after = os.getloadavg()
    out = [
        "# CLV: kithkin.clv vs lifetimes",
        "",
        "Command: `" + " ".join([".venv/bin/python benchmarks/clv_vs_lifetimes.py",
                                 *sys.argv[1:]]) + "`",
        "",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, "
        f"nproc {os.cpu_count()}, load average before {load_before[0]:.2f} / "
        f"{load_before[1]:.2f} / {load_before[2]:.2f}, after {load_after[0]:.2f} / "
        f"{load_after[1]:.2f} / {load_after[2]:.2f} (other engineers share the machine).",
        f"Peak RSS: this process (kithkin) {own:.0f} MiB; lifetimes child processes "
        f"{children:.0f} MiB. lifetimes time limit per dataset: {args.lifetimes_timeout:.0f} s.",
        "",
        "Steps: summary = read Parquet + per-customer frequency/recency/T/monetary value "
        "(kithkin: `kithkin.analytics.summary_arrow.customer_summary_from_parquet`, pyarrow "
        "batches into NumPy running state; lifetimes: pandas read + "
        "`summary_data_from_transaction_data`); "
        f"'{IBIS_SUMMARY}' = `customer_summary` (what `kithkin refresh` runs), timed after "
        "the other and checked equal to it (rtol 1e-9), not part of the kithkin total; "
        "fit BG/NBD, fit Gamma-Gamma; score = P(alive), "
        "expected purchases in 90 days and 12-month discounted CLV for every customer. "
        "Times in seconds. Log-likelihoods of both libraries' estimates are evaluated with "
        "the same function on the same summary. rows/s: transactions per second for the "
        "summary, customers per second for the other steps.",
        "",
        "| dataset | transactions | customers | step | kithkin s | lifetimes s | speed-up "
        "| kithkin rows/s |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for name, ours, theirs, _, _ in rows:
        transactions = ours.transactions
        for step in (*STEPS, IBIS_SUMMARY, IBIS_TOTAL):
            a = ours.steps.get(step)
            b = theirs.steps.get({IBIS_SUMMARY: "summary", IBIS_TOTAL: "total"}.get(step, step))
            ratio = f"{b / a:.1f}x" if a and b else "-"
            per_second = int(transactions / a) if step.startswith("summary") and a else (
                int(ours.customers / a) if a else 0)
            out.append(f"| {name} | {transactions:,} | {ours.customers:,} | {step} | "
                       f"{_fmt(a)} | {_fmt(b)} | {ratio} | {per_second:,} |")
    out += ["", "End to end (kithkin total = summary + both fits + score, all customers):", "",
            "| dataset | lifetimes total / kithkin total | lower bound: lifetimes summary + "
            "BG/NBD fit + score without CLV / kithkin total | same with kithkin's Ibis "
            "summary |", "|---|---:|---:|---:|"]
    for name, ours, theirs, _, _ in rows:
        total = ours.steps.get("total")
        parts = [theirs.steps.get(s) for s in ("summary", "fit BG/NBD", SCORE_WITHOUT_CLV)]
        bound = sum(p for p in parts if p is not None) if None not in parts else None
        cells = [f"{theirs.steps['total'] / total:.1f}x" if total and "total" in theirs.steps
                 else "-",
                 f"{bound / total:.1f}x" if total and bound else "-",
                 f"{bound / ours.steps[IBIS_TOTAL]:.1f}x" if bound and IBIS_TOTAL in ours.steps
                 else "-"]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out += ["", "Log-likelihoods (difference = kithkin - lifetimes; >= 0 means kithkin's fit is "
            "at least as good):", "",
            "| dataset | BG/NBD LL kithkin | BG/NBD LL lifetimes | difference | Gamma-Gamma LL "
            "kithkin | Gamma-Gamma LL lifetimes | difference | lifetimes note |",
            "|---|---:|---:|---:|---:|---:|---:|---|"]
    for name, _, theirs, ll_ours, ll_theirs in rows:
        out.append(f"| {name} | {ll_ours[0]:.2f} | {ll_theirs[0]:.2f} | "
                   f"{ll_ours[0] - ll_theirs[0]:.2g} | {ll_ours[1]:.2f} | {ll_theirs[1]:.2f} | "
                   f"{ll_ours[1] - ll_theirs[1]:.2g} | "
                   f"{'; '.join(theirs.notes) or 'completed'} |")
    out += ["", "BG/NBD estimates (kithkin / lifetimes):", ""]
    for name, ours, theirs, _, _ in rows:
        shown = ", ".join(
            f"{k} {v:.4g} / " + (f"{theirs.bg_params[k]:.4g}" if theirs.bg_params else "-")
            for k, v in (ours.bg_params or {}).items())
        out.append(f"- {name}: {shown}")
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
    for name, path, as_of in datasets:
        transactions = pq.ParquetFile(path).metadata.num_rows
        print(f"{name}: {transactions:,} transactions", flush=True)
        ours, summary = run_kithkin(path, as_of)
        theirs = run_lifetimes(path, as_of, args.lifetimes_timeout)
        for run in (ours, theirs):
            run.transactions = transactions
            if all(s in run.steps for s in STEPS[:-1]):
                run.steps["total"] = sum(run.steps[s] for s in STEPS[:-1])
        ours.steps[IBIS_TOTAL] = (ours.steps["total"] - ours.steps["summary"]
                                  + ours.steps[IBIS_SUMMARY])
        print(f"  kithkin {ours.steps}\n  lifetimes {theirs.steps} {theirs.notes}", flush=True)
        rows.append((name, ours, theirs, log_likelihoods(summary, ours),
                     log_likelihoods(summary, theirs)))
    text = report(rows, args, load_before, holdout_report())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
