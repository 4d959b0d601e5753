"""Cost of the consent ledger on customer imports, and of one erasure on a large store.

Generates (once, in benchmarks/data/) a customers CSV whose rows carry the four
marketing-consent columns (the simulator's mix: 55 % granted, 15 % denied, 10 % opted
out, 20 % empty), imports it into a fresh SQLite store twice (the second run must add no
consent event) and erases one customer. ``--compare-src`` runs the same imports with
another source tree (e.g. main's, where consent was one overwritten row per channel).

    .venv/bin/python benchmarks/consent_import.py --customers 200000
    .venv/bin/python benchmarks/consent_import.py --customers 200000 --compare-src /work/main/src
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
RESULTS = ROOT / "results"
CHANNELS = ("email", "sms", "phone", "post")
STATUSES = np.array(["granted", "denied", "opted_out", ""])
WEIGHTS = (0.55, 0.15, 0.10, 0.20)

CHILD = r"""
import json, sys, time
from pathlib import Path
from sqlalchemy import text
from kithkin.config import get_settings
from kithkin.database.core import build_engine, session_scope
from kithkin.database.manage import upgrade
from kithkin.imports.ingest import ingest_file
path, home, erase = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
engine = build_engine(f"sqlite:///{home / 'kithkin.db'}")
upgrade(engine)
out = {}
for run in ("first", "again"):
    started = time.perf_counter()
    report = ingest_file(kind="customers", path=path, engine=engine)
    out[run + "_seconds"] = round(time.perf_counter() - started, 2)
    with engine.connect() as conn:
        tables = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master"))}
        out[run + "_events"] = (conn.execute(text("SELECT count(*) FROM consent_event"))
                                .scalar_one() if "consent_event" in tables else None)
        out[run + "_consent_rows"] = conn.execute(text("SELECT count(*) FROM consent")).scalar_one()
if erase:
    from kithkin.privacy import erasure
    started = time.perf_counter()
    with session_scope(engine) as session:
        erasure.erase(session=session, settings=get_settings(), customer_id=1, actor="bench")
    out["erase_seconds"] = round(time.perf_counter() - started, 3)
print(json.dumps(out))
"""


def generate(customers: int) -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"consent_customers_{customers}.csv"
    if path.exists():
        return path
    rng = np.random.default_rng(17)
    picks = {c: STATUSES[rng.choice(4, size=customers, p=WEIGHTS)] for c in CHANNELS}
    with path.open("w", encoding="utf-8") as handle:
        handle.write("source,external_id,first_name,last_name,email,"
                     + ",".join(f"consent_{c}" for c in CHANNELS) + "\n")
        for i in range(customers):
            handle.write(f"shop,C{i},First{i},Last{i},person{i}@example.com,"
                         + ",".join(picks[c][i] for c in CHANNELS) + "\n")
    return path


def run(src: Path, path: Path, *, erase: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / ".kithkin"
        home.mkdir()
        env = {**os.environ, "PYTHONPATH": str(src), "KITHKIN_HOME": str(home)}
        env.pop("KITHKIN_DATABASE_URL", None)
        done = subprocess.run([sys.executable, "-c", CHILD, str(path), str(home),
                               "1" if erase else "0"], env=env, check=True,
                              capture_output=True, text=True)
        result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--compare-src", type=Path, default=None)
    args = parser.parse_args()
    path = generate(args.customers)
    here = run(ROOT.parent / "src", path, erase=True)
    lines = [f"# Consent ledger on customer imports ({args.customers:,} customers, SQLite)", "",
             f"Command: `python benchmarks/consent_import.py --customers {args.customers}"
             + (f" --compare-src {args.compare_src}`" if args.compare_src else "`"), "",
             "| code | first import s | rows/s | re-import s | events after 1st | after 2nd | "
             "consent rows | erase one customer s |", "|---|---|---|---|---|---|---|---|"]

    def row(name: str, r: dict[str, float]) -> str:
        return (f"| {name} | {r['first_seconds']} | {args.customers / r['first_seconds']:,.0f} "
                f"| {r['again_seconds']} | {r.get('first_events')} | {r.get('again_events')} "
                f"| {r['first_consent_rows']} | {r.get('erase_seconds', '-')} |")

    lines.append(row("this branch (ledger)", here))
    if args.compare_src:
        lines.append(row(f"{args.compare_src} (no ledger)",
                         run(args.compare_src, path, erase=False)))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "consent_import.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
