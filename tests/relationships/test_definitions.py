from __future__ import annotations

from pathlib import Path

import pytest

from kithkin.config import get_settings
from kithkin.errors import ConfigurationError
from kithkin.relationships.definitions import BUILTIN_DIR, StageModelError, parse_model
from kithkin.relationships.workspace import (
    active_models,
    install_model,
    load_config,
)

from .crafted import stage_model

GOOD = """\
[model]
name = "journey"
title = "Mine"

[[stages]]
name = "stranger"
goal = "attract"
goal_metric = "orders"
rule = "true"

[[stages]]
name = "acquaintance"
goal = "satisfy"
goal_metric = "last_csat"
rule = "orders >= 1"

[[stages]]
name = "friend"
goal = "retain"
goal_metric = "p_alive"
rule = \"\"\"
orders >= 3
and days_since_last_purchase <= 90
\"\"\"
"""


def test_builtin_models_load_with_their_stages() -> None:
    assert [stage_model(n).stage_names for n in ("journey", "ladder", "pyramid")] == [
        ["stranger", "acquaintance", "friend", "partner"],
        ["prospect", "customer", "client", "supporter", "advocate", "partner"],
        ["transactional", "responsive", "access", "transformational"],
    ]
    assert {path.stem for path in BUILTIN_DIR.glob("*.toml")} == {"journey", "ladder",
                                                                "pyramid"}
    assert [m.name for m in active_models(home=get_settings().home)] == ["journey", "ladder",
                                                                         "pyramid"]
    assert [stage_model(n).includes_prospects for n in ("journey", "ladder", "pyramid")] == [
        True, True, False]


@pytest.mark.parametrize(("old", "new", "kind", "line", "stage", "words"), [
    ("days_since_last_purchase <= 90", "days_since_purchase <= 90", "unknown_metric", 23,
     "friend", "unknown metric 'days_since_purchase'"),
    ("days_since_last_purchase <= 90", "days_since_last_purchase <=", "syntax", 23,
     "friend", "found end of rule"),
    ('rule = "orders >= 1"', "rule = \"orders >= 'one'\"", "type", 15, "acquaintance",
     "cannot compare number with string"),
    ("orders >= 3", "abs(orders) >= 3", "syntax", 22, "friend",
     "function abs() is not allowed in a rule (column 1"),
    ("and days_since_last_purchase <= 90", "and days_since_last_purchase <= 90; drop x",
     "syntax", 23, "friend", "';' is not allowed (column 35"),
    ('name = "friend"', 'name = "acquaintance"', "duplicate", 18, "acquaintance",
     "duplicate stage 'acquaintance'"),
    ('rule = "true"', 'rule = "orders >= 0"', "fallback", 9, "stranger",
     "no fallback stage"),
    ('goal_metric = "p_alive"', 'goal_metric = "palive"', "unknown_metric", 20, "friend",
     "unknown metric 'palive'"),
    ('goal = "retain"\n', "", "missing", 17, "friend", "missing 'goal'"),
    ('title = "Mine"', 'title = "Mine', "toml", 3, None, "TOML syntax error"),
    ('rule = "orders >= 1"', 'rule = "orders >= 1"\nincludes_prospects = true',
     "prospects", 16, "acquaintance", "only allowed on the first (lowest) stage"),
    ('rule = "true"', 'rule = "true"\nincludes_prospects = "yes"', "type", 10, "stranger",
     "includes_prospects must be true or false"),
])
def test_every_validation_error_names_line_and_problem(
        old: str, new: str, kind: str, line: int, stage: str | None, words: str) -> None:
    assert old in GOOD
    with pytest.raises(StageModelError) as caught:
        parse_model(GOOD.replace(old, new, 1), file="mine.toml")
    error = caught.value
    assert (error.kind, error.line, error.stage) == (kind, line, stage)
    assert words in str(error)
    assert str(error).startswith(f"mine.toml:{line}")
    if stage:
        assert f"model 'journey', stage '{stage}'" in str(error)


def test_invalid_file_leaves_the_active_model_untouched(tmp_path: Path) -> None:
    bad = tmp_path / "journey.toml"
    bad.write_text(GOOD.replace("orders >= 3", "ordrs >= 3"))
    with pytest.raises(StageModelError, match=r"journey\.toml:22"):
        install_model(bad, home=get_settings().home)
    assert stage_model("journey").stage_names == ["stranger", "acquaintance", "friend",
                                                "partner"]


def test_valid_user_model_replaces_the_builtin(tmp_path: Path, workspace: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text(GOOD)
    install_model(mine, home=get_settings().home)
    assert (workspace / "stage_models" / "journey.toml").exists()
    assert stage_model("journey").stage_names == ["stranger", "acquaintance", "friend"]
    assert stage_model("journey").stage("friend").rule.metrics == (
        "orders", "days_since_last_purchase")


def test_settings_choose_the_active_models(workspace: Path) -> None:
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "relationships.toml").write_text('active_models = ["pyramid"]\n')
    assert [m.name for m in active_models(home=get_settings().home)] == ["pyramid"]
    (workspace / "relationships.toml").write_text('active_models = ["nope"]\n')
    with pytest.raises(ConfigurationError, match="nope"):
        active_models(home=get_settings().home)


def test_a_stage_goal_is_looked_up_in_one_place() -> None:
    """The customer explanation and the dashboard overview both ask the model."""
    journey = stage_model("journey")
    friend = journey.stage("friend")
    assert journey.goal_of("friend") == (friend.goal, friend.goal_metric)
    assert journey.goal_of("renamed since") is None


def test_segment_rules_are_checked_like_stage_rules(workspace: Path) -> None:
    workspace.mkdir(parents=True, exist_ok=True)
    config = workspace / "relationships.toml"
    config.write_text('[segments]\nbig = "revenue >= 300 and not has_contract"\n')
    assert load_config(home=get_settings().home).segment_rules()["big"].metrics == ("revenue",
                                                                                    "has_contract")
    config.write_text('[segments]\nbig = "revenue >= (select 1)"\n')
    with pytest.raises(ConfigurationError,
                       match=r"\[segments\] big: SELECT is not allowed in a rule"):
        load_config(home=get_settings().home).segment_rules()
