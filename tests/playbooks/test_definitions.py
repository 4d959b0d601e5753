"""Playbook files are validated like stage models: errors name file, line, rule and
problem, and an invalid file never changes the playbooks in force."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kithkin.playbooks import keys
from kithkin.playbooks.definitions import PlaybookError, builtin_playbooks, parse_playbook
from kithkin.playbooks.workspace import active_playbooks, install_file, validate_file
from kithkin.relationships.levels import Level

HEAD = '[playbook]\nname = "mine"\nlevel = "reactive"\n'


def rule(body: str, action: str = 'action = "task"\ntitle = "Call"\n') -> str:
    return f'{HEAD}\n[[rules]]\nname = "r1"\n{body}\n[[rules.actions]]\n{action}'


def test_every_level_has_a_valid_builtin() -> None:
    books = builtin_playbooks()
    assert {b.level for b in books.values()} == {m.value for m in Level}
    assert books["basic"].rules == ()  # nothing after the sale
    assert {r.trigger for r in books["partnership"].rules} >= {"lapse", "purchase"}


@pytest.mark.parametrize(("text", "line", "problem"), [
    (rule('trigger = "birthday"'), 7, "unknown trigger 'birthday'"),
    (rule('trigger = "lapse"\nfactor = 1.5\np_alive_below = 0.2'), 5, "exactly one of"),
    (rule('trigger = "purchase"\nwindow_days = 0'), 8, "window_days must be a whole"),
    (rule('trigger = "purchase"', 'action = "message"'), 8, "needs 'template'"),
    (rule('trigger = "purchase"', 'action = "fax"'), 9, "unknown action 'fax'"),
    (rule('trigger = "purchase"\ncolour = "red"'), 8, "unknown key 'colour'"),
    (HEAD.replace("reactive", "friendly"), 3, "level 'friendly'"),
    (HEAD + "[[rules]\n", 4, "TOML syntax error"),
])
def test_errors_name_line_and_problem(text: str, line: int, problem: str) -> None:
    with pytest.raises(PlaybookError) as caught:
        parse_playbook(text, file="mine.toml")
    assert caught.value.line == line and problem in caught.value.problem
    assert str(caught.value).startswith(f"mine.toml:{line}")


def test_stage_change_model_must_exist(tmp_path: Path, workspace: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(rule('trigger = "stage_change"\nmodel = "funnel"'), encoding="utf-8")
    with pytest.raises(PlaybookError, match="unknown stage model 'funnel'"):
        validate_file(path, home=workspace)


def test_invalid_install_leaves_the_active_set(tmp_path: Path, workspace: Path) -> None:
    good = tmp_path / "reactive.toml"
    good.write_text(rule('trigger = "purchase"').replace('"mine"', '"reactive"'),
                    encoding="utf-8")
    install_file(good, home=workspace)
    before = (workspace / "playbooks" / "reactive.toml").read_text(encoding="utf-8")
    assert [r.name for r in active_playbooks(home=workspace)["reactive"].rules] == ["r1"]
    bad = tmp_path / "bad.toml"
    bad.write_text(before.replace('trigger = "purchase"', 'trigger = "purchase"\ndays = 2'),
                   encoding="utf-8")
    with pytest.raises(PlaybookError, match="unknown key 'days'"):
        install_file(bad, home=workspace)
    assert (workspace / "playbooks" / "reactive.toml").read_text(encoding="utf-8") == before
    assert sorted(p.name for p in (workspace / "playbooks").iterdir()) == ["reactive.toml"]


def test_holdout_is_deterministic_and_per_playbook() -> None:
    ids = np.arange(1, 200_001)
    first = keys.in_holdout(ids, "reactive", 0.1)
    assert np.array_equal(first, keys.in_holdout(ids, "reactive", 0.1))
    assert 0.095 < first.mean() < 0.105
    other = keys.in_holdout(ids, "partnership", 0.1)
    assert 0.005 < (first & other).mean() < 0.015  # independent across playbooks
    assert not keys.in_holdout(ids, "reactive", 0.0).any()
