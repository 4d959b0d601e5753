"""Declarative stage models: loading a TOML file into a validated :class:`StageModel`.

A stage model is an ordered list of stages, lowest first. Each stage has a goal (what the
firm tries to achieve with customers in it), the metric that goal is judged by, and an
entry rule in the language of :mod:`kithkin.relationships.rules`.

Assignment rule (chosen and documented): a customer gets the *highest* stage whose rule
matches. The lowest stage is the fallback and must have the rule ``true`` so that every
customer gets a stage. Highest-match lets each rule state only what makes its stage
distinctive, and a customer who stops meeting a rule drops to the next stage that still
holds: stages move down as well as up.

The lowest stage may say ``includes_prospects = true`` (strangers, prospects): its stage
counts then also include the prospects not yet converted into customers (people with no
transaction, who have no customer row and so no per-customer stage).

Every validation problem raises :class:`StageModelError` naming the file, the model,
the stage, the line and the problem; nothing is installed or activated until a file
validates completely.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kithkin.errors import ValidationError
from kithkin.relationships.catalog import METRIC_TYPES
from kithkin.relationships.rules import Rule, RuleError, compile_rule

BUILTIN_DIR = Path(__file__).parent / "stage_models"
_STAGES_HEADER = re.compile(r"^\s*\[\[\s*stages\s*\]\]")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class StageModelError(ValidationError):
    """A stage model file is invalid; says where (file, model, stage, line) and why."""

    def __init__(self, problem: str, *, kind: str, file: str, model: str | None = None,
                 stage: str | None = None, line: int | None = None) -> None:
        self.problem, self.kind, self.file = problem, kind, file
        self.model, self.stage, self.line = model, stage, line
        where = f"{file}:{line}" if line is not None else file
        parts = [where]
        if model:
            parts.append(f"model {model!r}")
        if stage:
            parts.append(f"stage {stage!r}")
        super().__init__(", ".join(parts) + f": {problem}")


@dataclass(frozen=True)
class Stage:
    name: str
    rank: int
    goal: str
    goal_metric: str
    description: str
    rule: Rule
    includes_prospects: bool = False  # lowest stage only: open prospects count here


@dataclass(frozen=True)
class StageModel:
    name: str
    title: str
    source: str
    description: str
    stages: tuple[Stage, ...]
    path: str

    @property
    def includes_prospects(self) -> bool:
        """Whether the lowest stage also counts the prospects not yet converted."""
        return self.stages[0].includes_prospects

    @property
    def stage_names(self) -> list[str]:
        return [stage.name for stage in self.stages]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def goal_of(self, name: str) -> tuple[str, str] | None:
        """The stage's goal and the metric it is judged by; None for a stage the model
        no longer has (renamed since the refresh that stored it)."""
        found = next((stage for stage in self.stages if stage.name == name), None)
        return None if found is None else (found.goal, found.goal_metric)


@dataclass(frozen=True)
class _StageLines:
    header: int
    keys: dict[str, int]


def _stage_lines(text: str) -> list[_StageLines]:
    """Line numbers (1-based) of each ``[[stages]]`` header and the keys in its block."""
    lines = text.splitlines()
    headers = [i for i, line in enumerate(lines) if _STAGES_HEADER.match(line)]
    blocks: list[_StageLines] = []
    for n, start in enumerate(headers):
        end = headers[n + 1] if n + 1 < len(headers) else len(lines)
        keys: dict[str, int] = {}
        for i in range(start + 1, end):
            match = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", lines[i])
            if match and match.group(1) not in keys:
                keys[match.group(1)] = i + 1
            if re.match(r"^\s*\[", lines[i]):
                break
        blocks.append(_StageLines(header=start + 1, keys=keys))
    return blocks


def _rule_location(text: str, rule_key_line: int, rule: str, position: int) -> tuple[int, int]:
    """The file line and the column within the rule's line of a character of a rule.

    Follows multi-line strings (TOML drops a newline right after the opening quotes).
    """
    line = text.splitlines()[rule_key_line - 1]
    value = line.split("=", 1)[1].strip()
    first_on_next_line = value in {'"""', "'''"}
    before = rule[:position]
    column = position - (before.rfind("\n") + 1) + 1
    return rule_key_line + int(first_on_next_line) + before.count("\n"), column


def _line_of_key(text: str, key: str) -> int | None:
    for i, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"^\s*{key}\s*=", line):
            return i
    return None


def parse_model(text: str, *, file: str) -> StageModel:
    """Validate a stage model's TOML text; raises :class:`StageModelError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise StageModelError(f"TOML syntax error: {exc}", kind="toml", file=file,
                              line=int(match.group(1)) if match else None) from exc
    header = data.get("model")
    if not isinstance(header, dict) or not isinstance(header.get("name"), str):
        raise StageModelError("missing [model] table with a name", kind="missing",
                              file=file, line=_line_of_key(text, "name"))
    name: str = header["name"]
    if not _NAME.match(name):
        raise StageModelError(f"model name {name!r} must be lower-case letters, digits, _",
                              kind="name", file=file, model=name,
                              line=_line_of_key(text, "name"))
    raw_stages = data.get("stages")
    if not isinstance(raw_stages, list) or len(raw_stages) < 2:
        raise StageModelError("a model needs at least two [[stages]]", kind="missing",
                              file=file, model=name, line=None)
    positions = _stage_lines(text)
    stages: list[Stage] = []
    for rank, (raw, where) in enumerate(zip(raw_stages, positions, strict=False)):
        stage = _parse_stage(raw, rank, where, text, file=file, model=name,
                             seen={s.name for s in stages})
        stages.append(stage)
    if not stages[0].rule.is_always_true:
        raise StageModelError(
            "no fallback stage: the first (lowest) stage must have rule = \"true\" so "
            "every customer gets a stage", kind="fallback", file=file, model=name,
            stage=stages[0].name, line=positions[0].keys.get("rule", positions[0].header))
    return StageModel(name=name, title=str(header.get("title", name)),
                      source=str(header.get("source", "")),
                      description=str(header.get("description", "")),
                      stages=tuple(stages), path=file)


def _parse_stage(raw: Any, rank: int, where: _StageLines, text: str, *, file: str,
                 model: str, seen: set[str]) -> Stage:
    def fail(problem: str, kind: str, key: str | None = None, stage: str | None = None,
             line: int | None = None) -> StageModelError:
        at = line or (where.keys.get(key, where.header) if key else where.header)
        return StageModelError(problem, kind=kind, file=file, model=model, stage=stage,
                               line=at)

    if not isinstance(raw, dict):
        raise fail("a stage must be a table", "missing")
    stage_name = raw.get("name")
    if not isinstance(stage_name, str) or not _NAME.match(stage_name):
        raise fail("stage needs a name of lower-case letters, digits and _", "missing",
                   "name")
    if stage_name in seen:
        raise fail(f"duplicate stage {stage_name!r}", "duplicate", "name", stage_name)
    for key in ("goal", "goal_metric", "rule"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise fail(f"missing {key!r}", "missing", key, stage_name)
    goal_metric = raw["goal_metric"]
    if goal_metric not in METRIC_TYPES:
        raise fail(f"unknown metric {goal_metric!r} for goal_metric", "unknown_metric",
                   "goal_metric", stage_name)
    rule_text: str = raw["rule"]
    try:
        rule = compile_rule(rule_text)
    except RuleError as exc:
        rule_line = where.keys.get("rule", where.header)
        line, column = _rule_location(text, rule_line, rule_text, exc.position)
        raise fail(f"rule: {exc.problem} (column {column} of the rule's text on that line)",
                   exc.kind, stage=stage_name, line=line) from exc
    includes_prospects = raw.get("includes_prospects", False)
    if not isinstance(includes_prospects, bool):
        raise fail("includes_prospects must be true or false", "type",
                   "includes_prospects", stage_name)
    if includes_prospects and rank != 0:
        raise fail("includes_prospects is only allowed on the first (lowest) stage: "
                   "prospects have no transaction yet", "prospects", "includes_prospects",
                   stage_name)
    return Stage(name=stage_name, rank=rank, goal=raw["goal"], goal_metric=goal_metric,
                 description=str(raw.get("description", "")), rule=rule,
                 includes_prospects=includes_prospects)


def load_model_file(path: Path) -> StageModel:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StageModelError(f"cannot read: {exc.strerror}", kind="io",
                              file=str(path)) from exc
    return parse_model(text, file=str(path))


def builtin_models() -> dict[str, StageModel]:
    models = (load_model_file(path) for path in sorted(BUILTIN_DIR.glob("*.toml")))
    return {model.name: model for model in models}
