"""CLI start-up: wall time of `kithkin version` and `kithkin --help` (target < 0.3 s).

Each case runs as a fresh process, ``--runs`` times; the table gives the median and the
best run. The reference is a bare interpreter (``python -c pass``) timed in the same run,
so the headline ratio says how much kithkin adds to Python's own start. The Typer app
(``kithkin.cli.main:app``, the executable before the fast path) is timed too, to show
what answering before importing Typer saves. Writes benchmarks/results/cli_startup.md.

    flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/cli_startup.py
    flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/cli_startup.py --runs 5
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "cli_startup.md"
TARGET_SECONDS = 0.3
TYPER_APP = "import sys; from kithkin.cli.main import app; app(prog_name='kithkin')"
CASES: list[tuple[str, list[str]]] = [
    ("reference: python -c pass", ["-c", "pass"]),
    ("kithkin version", ["-m", "kithkin", "version"]),
    ("kithkin --help", ["-m", "kithkin", "--help"]),
    ("Typer app: version", ["-c", TYPER_APP, "version"]),
    ("Typer app: --help", ["-c", TYPER_APP, "--help"]),
    ("kithkin import --help (loads its module)", ["-m", "kithkin", "import", "--help"]),
]


def time_case(args: list[str], runs: int) -> list[float]:
    env = {**os.environ, "COLUMNS": "100"}
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, *args], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    load_before = os.getloadavg()
    results = {label: time_case(case, args.runs) for label, case in CASES}
    load_after = os.getloadavg()
    medians = {label: statistics.median(times) for label, times in results.items()}
    reference = medians[CASES[0][0]]
    version, helped = medians["kithkin version"], medians["kithkin --help"]
    lines = [
        "# CLI start-up",
        "",
        f"**`kithkin version` {version:.3f} s ({version / reference:.1f}x a bare "
        f"`python -c pass`, {reference:.3f} s); `kithkin --help` {helped:.3f} s "
        f"({helped / reference:.1f}x); target < {TARGET_SECONDS} s: "
        f"{'met' if max(version, helped) < TARGET_SECONDS else 'NOT met'}.**",
        "",
        f"Median and best of {args.runs} fresh processes each, stdout to /dev/null. "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after (a shared machine: other jobs ran meanwhile).",
        "",
        "| case | median s | best s | x reference |",
        "|---|---:|---:|---:|",
    ]
    for label, times in results.items():
        lines.append(f"| {label} | {medians[label]:.3f} | {min(times):.3f} | "
                     f"{medians[label] / reference:.1f} |")
    lines += [
        "",
        "`kithkin` and `python -m kithkin` run `kithkin.cli.entry:main`, which answers "
        "`version` and the top-level help from the command table before importing Typer; "
        "every other command line goes to the Typer app, which imports a command's module "
        "only when that command runs. `tests/cli/test_startup.py` guards the module count, "
        "not the time.",
        "",
        "    flock /tmp/kithkin-bench.lock .venv/bin/python benchmarks/cli_startup.py",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
