"""`kithkin playbooks` end to end, including two processes running at once on one
SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.playbooks.crafted import AS_OF, no_holdout, seed
from tests.playbooks.test_builtin_playbooks import _check

pytestmark = pytest.mark.slow  # first in the suite's order (tests/conftest.py)

SRC = str(Path(__file__).resolve().parents[2] / "src")


def kithkin(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "kithkin", "playbooks", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def output(*args: str) -> tuple[int, str]:
    process = kithkin(*args)
    out, _ = process.communicate(timeout=120)
    return process.returncode, out


def test_two_processes_create_each_task_and_message_once(sqlite_engine: Engine,
                                                         workspace: Path) -> None:
    no_holdout(workspace)
    ids = seed(sqlite_engine)
    runs = [kithkin("run", "--as-of", AS_OF.isoformat(), "--format", "csv")
            for _ in range(2)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    _check(sqlite_engine, ids)
    code, report = output("report", "--as-of", AS_OF.isoformat(), "--format", "csv")
    assert code == 0 and "accountable,checkin,1" in report


def test_validate_dry_run_and_level(sqlite_engine: Engine, workspace: Path,
                                    tmp_path: Path) -> None:
    no_holdout(workspace)
    ids = seed(sqlite_engine)
    bad = tmp_path / "bad.toml"
    bad.write_text('[playbook]\nname = "x"\nlevel = "reactive"\n[[rules]]\nname = "a"\n'
                   'trigger = "lapse"\n[[rules.actions]]\naction = "task"\ntitle = "t"\n',
                   encoding="utf-8")
    code, text = output("validate", str(bad))
    assert code == 1 and "bad.toml:4" in text and "exactly one of" in text
    code, text = output("dry-run", "--as-of", AS_OF.isoformat(), "--format", "csv")
    assert code == 0 and "accountable,accountable,checkin,purchase,1,0,1,0,0,1" in text
    code, text = output("level", f"id:{ids['basic_buyer']}", "partnership")
    assert code == 0 and "level partnership (override)" in text
    code, text = output("level", f"id:{ids['basic_buyer']}", "--clear")
    assert code == 0 and "level none (none)" in text


def test_held_back_lists_the_messages_not_queued(sqlite_engine: Engine,
                                                 workspace: Path) -> None:
    """`kithkin playbooks held-back [CUSTOMER]`: the firings whose message the outbox
    refused, with the reason (no message row exists for them)."""
    no_holdout(workspace)
    ids = seed(sqlite_engine)
    code, out = output("run", "--as-of", AS_OF.isoformat())
    assert code == 0, out
    code, out = output("held-back", "--format", "csv")
    assert code == 0, out
    assert len(out.strip().splitlines()) == 1 + 5  # the header and the five messages
    code, out = output("held-back", f"id:{ids['accountable_due']}", "--format", "csv")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 2, out
    assert ",accountable,checkin," in lines[1] and lines[1].split(",")[-1].startswith("no ")
