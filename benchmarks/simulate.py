"""Simulator throughput: time, rows/s and peak RSS for ``kithkin simulate``, CSV vs Parquet.

Each (size, format) run happens in its own subprocess so its peak RSS is its own; the
output goes to benchmarks/data/simulate_<customers>_<format>/ and is deleted afterwards
unless ``--keep``. Memory should stay flat as the size grows (chunked writing).

    .venv/bin/python benchmarks/simulate.py                 # 100k and 1M customers
    .venv/bin/python benchmarks/simulate.py --quick         # 10k and 50k customers
    .venv/bin/python benchmarks/simulate.py --sizes 200000 --formats parquet
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
RESULTS = ROOT / "results"


def child(customers: int, fmt: str, years: float, out_dir: Path) -> None:
    """Run one simulation and print its figures as JSON (called in a subprocess)."""
    from kithkin.simulate import simulate_business

    started = time.perf_counter()
    summary = simulate_business(customers=customers, years=years, seed=1, out_dir=out_dir,
                                fmt=fmt)
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())
    print(json.dumps({
        "seconds": seconds, "rows": summary.rows, "bytes": size,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def run(customers: int, fmt: str, years: float, keep: bool) -> dict[str, object]:
    out_dir = DATA / f"simulate_{customers}_{fmt}"
    shutil.rmtree(out_dir, ignore_errors=True)
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(customers), fmt, str(years), str(out_dir)],
        check=True, capture_output=True, text=True,
    )
    figures: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    if not keep:
        shutil.rmtree(out_dir, ignore_errors=True)
    return figures


def report(rows: list[tuple[int, str, dict[str, object]]], years: float, quick: bool,
           load_before: tuple[float, float, float]) -> str:
    lines = [
        "# Simulator benchmark (`kithkin simulate`)",
        "",
        f"- machine: {platform.node()}, {platform.processor() or platform.machine()}, "
        f"nproc {os.cpu_count()}, Python {platform.python_version()}",
        f"- load average before: {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.2f}' for x in os.getloadavg())} (other engineers share "
        "the CPU)",
        f"- history: {years:g} years, seed 1, default rates; each run in its own process",
        f"- command: `.venv/bin/python benchmarks/simulate.py{' --quick' if quick else ''}`",
        "",
        "| customers | format | seconds | transactions | lines | interactions | all rows "
        "| rows/s | transactions/s | peak RSS MB | output MB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for customers, fmt, figures in rows:
        counts = figures["rows"]
        assert isinstance(counts, dict)
        seconds = float(figures["seconds"])  # type: ignore[arg-type]
        total = sum(counts.values())
        lines.append(
            f"| {customers:,} | {fmt} | {seconds:.1f} | {counts['transactions']:,} "
            f"| {counts['lines']:,} | {counts['interactions']:,} | {total:,} "
            f"| {total / seconds:,.0f} | {counts['transactions'] / seconds:,.0f} "
            f"| {float(figures['peak_rss_mb']):,.0f} "  # type: ignore[arg-type]
            f"| {int(figures['bytes']) / 1e6:,.0f} |"  # type: ignore[call-overload]
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), Path(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--formats", nargs="+", default=["csv", "parquet"],
                        choices=["csv", "parquet"])
    parser.add_argument("--years", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true", help="10k and 50k customers")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    sizes = [10_000, 50_000] if args.quick else args.sizes
    load_before = os.getloadavg()
    rows = []
    for customers in sizes:
        for fmt in args.formats:
            figures = run(customers, fmt, args.years, args.keep)
            print(f"{customers:>10,} {fmt:8} {float(figures['seconds']):8.1f} s "  # type: ignore[arg-type]
                  f"peak {float(figures['peak_rss_mb']):,.0f} MB", flush=True)  # type: ignore[arg-type]
            rows.append((customers, fmt, figures))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "simulate_quick.md" if args.quick else "simulate.md"
    (RESULTS / name).write_text(report(rows, args.years, args.quick, load_before))
    print(f"wrote {RESULTS / name}")


if __name__ == "__main__":
    main()
