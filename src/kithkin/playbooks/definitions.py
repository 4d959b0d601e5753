"""Declarative playbooks: a TOML file of rules, each a trigger and the actions it takes.

A playbook serves one relationship level (seed 002, Kotler's five levels). Its rules
name a trigger (what happened to a customer) and actions (what the firm does about it)::

    [playbook]
    name = "accountable"
    level = "accountable"
    title = "A check-in a few days after each purchase"
    holdout_share = 0.10          # optional; the workspace default otherwise

    [[rules]]
    name = "checkin"
    trigger = "purchase"
    delay_days = 3                # act this many days after the occurrence
    window_days = 30              # ...and only while that day is this recent

    [[rules.actions]]
    action = "message"
    template = "checkin_accountable"

Validation mirrors the stage models (:mod:`kithkin.relationships.definitions`): every
problem raises :class:`PlaybookError` naming the file, the line, the playbook, the rule
and the problem, and nothing is installed until a file validates completely.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kithkin.errors import ValidationError
from kithkin.relationships.levels import Level

BUILTIN_DIR = Path(__file__).parent / "builtin"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_HEADER = re.compile(r"^\s*\[\[\s*(rules|rules\.actions)\s*\]\]")
_TABLE = re.compile(r"^\s*\[")
_KEY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")

TRIGGERS: dict[str, str] = {
    "purchase": "an order (positive amount) was placed",
    "stage_change": "the customer moved up or down in a stage model",
    "lapse": "silence beyond the customer's own expected time, or P(alive) below a "
             "threshold",
    "complaint": "a complaint was opened, or is unresolved after some days",
    "survey": "a survey score below or at least a threshold",
    "anniversary": "a year (or more) since the first purchase",
    "membership_ending": "a membership (loyalty, subscription, contract) ends soon",
    "new_idea": "the customer proposed an idea",
}
ACTIONS: dict[str, str] = {
    "task": "a task for a team or the customer's account manager",
    "message": "a message from a template, through the outbox",
    "assign_account_manager": "an account manager, when the customer has none",
    "add_tag": "a tag on the customer",
    "enrol_list": "the customer enrolled in a list",
}
PRIORITIES = ("low", "normal", "high", "urgent")
CHANNELS = ("email", "sms", "webhook")
PURPOSES = ("marketing", "service")


class PlaybookError(ValidationError):
    """A playbook file is invalid; says where (file, line, playbook, rule) and why."""

    def __init__(self, problem: str, *, file: str, line: int | None = None,
                 playbook: str | None = None, rule: str | None = None) -> None:
        self.problem, self.file, self.line = problem, file, line
        self.playbook, self.rule = playbook, rule
        parts = [f"{file}:{line}" if line is not None else file]
        if playbook:
            parts.append(f"playbook {playbook!r}")
        if rule:
            parts.append(f"rule {rule!r}")
        super().__init__(", ".join(parts) + f": {problem}")


@dataclass(frozen=True)
class Action:
    action: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Rule:
    name: str
    trigger: str
    params: dict[str, Any]
    actions: tuple[Action, ...]
    delay_days: int = 0
    window_days: int = 30
    description: str = ""


@dataclass(frozen=True)
class Playbook:
    name: str
    level: str
    title: str
    source: str
    description: str
    rules: tuple[Rule, ...]
    path: str
    holdout_share: float | None = None
    builtin: bool = field(default=False, compare=False)

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)


@dataclass
class _Block:
    line: int
    keys: dict[str, int] = field(default_factory=dict)
    actions: list[_Block] = field(default_factory=list)


def _blocks(text: str) -> tuple[dict[str, int], list[_Block]]:
    """Line numbers (1-based) of the top-level keys, and of each ``[[rules]]`` and
    ``[[rules.actions]]`` header with the keys in its block."""
    top: dict[str, int] = {}
    rules: list[_Block] = []
    current: dict[str, int] | None = top
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            if header.group(1) == "rules":
                rules.append(_Block(number))
                current = rules[-1].keys
            elif rules:
                rules[-1].actions.append(_Block(number))
                current = rules[-1].actions[-1].keys
            continue
        if _TABLE.match(line):
            current = top if line.strip() == "[playbook]" else None
            continue
        key = _KEY.match(line)
        if key and current is not None and key.group(1) not in current:
            current[key.group(1)] = number
    return top, rules


def parse_playbook(text: str, *, file: str, stage_models: set[str] | None = None
                   ) -> Playbook:
    """Validate a playbook's TOML text; raises :class:`PlaybookError`.

    ``stage_models`` (the workspace's model names) lets a ``stage_change`` rule's model
    be checked; without it any model name is accepted."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise PlaybookError(f"TOML syntax error: {exc}", file=file,
                            line=int(match.group(1)) if match else None) from exc
    top, blocks = _blocks(text)
    header = data.get("playbook")
    if not isinstance(header, dict) or not isinstance(header.get("name"), str):
        raise PlaybookError("missing [playbook] table with a name", file=file,
                            line=top.get("name"))
    name: str = header["name"]
    if not _NAME.match(name):
        raise PlaybookError(f"playbook name {name!r} must be lower-case letters, digits, _",
                            file=file, line=top.get("name"))
    level = header.get("level")
    if level not in {m.value for m in Level}:
        raise PlaybookError(f"level {level!r} is not one of {[m.value for m in Level]}",
                            file=file, line=top.get("level"), playbook=name)
    unknown = sorted(set(header) - {"name", "level", "title", "source", "description",
                                    "holdout_share"})
    if unknown:
        raise PlaybookError(f"unknown key {unknown[0]!r} in [playbook]", file=file,
                            line=top.get(unknown[0]), playbook=name)
    share = header.get("holdout_share")
    if share is not None and (isinstance(share, bool) or not isinstance(share, int | float)
                              or not 0 <= share < 1):
        raise PlaybookError("holdout_share must be a number from 0 up to (not including) 1",
                            file=file, line=top.get("holdout_share"), playbook=name)
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        raise PlaybookError("rules must be [[rules]] tables", file=file, playbook=name,
                            line=top.get("rules"))
    rules: list[Rule] = []
    for raw, where in zip(raw_rules, blocks, strict=False):
        rules.append(_parse_rule(raw, where, file=file, playbook=name,
                                 seen={r.name for r in rules}, stage_models=stage_models))
    return Playbook(name=name, level=str(level), title=str(header.get("title", name)),
                    source=str(header.get("source", "")),
                    description=str(header.get("description", "")), rules=tuple(rules),
                    path=file, holdout_share=None if share is None else float(share))


# trigger -> {key: (check, required)}; every check returns a problem or None
Check = Callable[[Any], str | None]


def _int(low: int) -> Check:
    def check(value: Any) -> str | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
        return None if ok else f"must be a whole number >= {low}"
    return check


def _number(low: float, high: float) -> Check:
    def check(value: Any) -> str | None:
        ok = isinstance(value, int | float) and not isinstance(value, bool) \
            and low <= value <= high
        return None if ok else f"must be a number from {low:g} to {high:g}"
    return check


def _choice(*options: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in options else f"must be one of {list(options)}"
    return check


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "must be a non-empty text"


def _name(value: Any) -> str | None:
    ok = isinstance(value, str) and bool(_NAME.match(value))
    return None if ok else "must be lower-case letters, digits and _"


TRIGGER_KEYS: dict[str, dict[str, tuple[Check, bool]]] = {
    "purchase": {"min_amount": (_number(0, 1e12), False)},
    "stage_change": {"model": (_name, True), "direction": (_choice("up", "down", "any"), False),
                     "to_stage": (_name, False)},
    "lapse": {"factor": (_number(0.1, 100), False), "p_alive_below": (_number(0, 1), False),
              "min_orders": (_int(1), False)},
    "complaint": {"state": (_choice("opened", "unresolved"), False), "days": (_int(0), False)},
    "survey": {"scale": (_choice("nps", "csat"), False), "score_below": (_number(0, 10), False),
               "score_at_least": (_number(0, 10), False)},
    "anniversary": {},
    "membership_ending": {"days_before": (_int(0), False),
                          "kind": (_choice("loyalty", "subscription", "contract"), False)},
    "new_idea": {},
}
ACTION_KEYS: dict[str, dict[str, tuple[Check, bool]]] = {
    "task": {"title": (_text, True), "team": (_text, False),
             "priority": (_choice(*PRIORITIES), False), "due_days": (_int(0), False),
             "owner": (_choice("account_manager", "team"), False), "details": (_text, False)},
    "message": {"template": (_name, True), "channel": (_choice(*CHANNELS), False),
                "purpose": (_choice(*PURPOSES), False)},
    "assign_account_manager": {"team": (_text, False)},
    "add_tag": {"tag": (_text, True)},
    "enrol_list": {"list": (_text, True)},
}
RULE_COMMON = {"name", "trigger", "delay_days", "window_days", "description", "actions"}


def _check_keys(raw: dict[str, Any], allowed: dict[str, tuple[Check, bool]],
                fail: Callable[[str, str | None], PlaybookError], what: str,
                common: set[str]) -> dict[str, Any]:
    for key in raw:
        if key not in allowed and key not in common:
            raise fail(f"unknown key {key!r} for {what}; allowed: "
                       f"{sorted(set(allowed) | common - {'actions'})}", key)
    params: dict[str, Any] = {}
    for key, (check, required) in allowed.items():
        if key not in raw:
            if required:
                raise fail(f"{what} needs {key!r}", None)
            continue
        problem = check(raw[key])
        if problem:
            raise fail(f"{key} {problem}", key)
        params[key] = raw[key]
    return params


def _parse_rule(raw: Any, where: _Block, *, file: str, playbook: str, seen: set[str],
                stage_models: set[str] | None) -> Rule:
    rule_name = raw.get("name") if isinstance(raw, dict) else None

    def fail(problem: str, key: str | None, block: _Block = where) -> PlaybookError:
        line = block.keys.get(key, block.line) if key else block.line
        return PlaybookError(problem, file=file, line=line, playbook=playbook,
                             rule=rule_name if isinstance(rule_name, str) else None)

    if not isinstance(raw, dict):
        raise fail("a rule must be a table", None)
    if _name(rule_name):
        raise fail("a rule needs a name of lower-case letters, digits and _", "name")
    if rule_name in seen:
        raise fail(f"duplicate rule {rule_name!r}", "name")
    trigger = raw.get("trigger")
    if trigger not in TRIGGERS:
        raise fail(f"unknown trigger {trigger!r}; one of {sorted(TRIGGERS)}", "trigger")
    params = _check_keys(raw, TRIGGER_KEYS[trigger], fail, f"trigger {trigger}", RULE_COMMON)
    for key, low in (("delay_days", 0), ("window_days", 1)):
        if key in raw and _int(low)(raw[key]):
            raise fail(f"{key} {_int(low)(raw[key])}", key)
    _check_trigger(trigger, params, raw, fail, stage_models)
    raw_actions = raw.get("actions")
    if not isinstance(raw_actions, list) or not raw_actions:
        raise fail("a rule needs at least one [[rules.actions]]", None)
    actions = []
    for index, (action, block) in enumerate(zip(raw_actions, where.actions, strict=False)):
        def action_fail(problem: str, key: str | None, block: _Block = block,
                        index: int = index) -> PlaybookError:
            return fail(f"action {index + 1}: {problem}", key, block)
        kind = action.get("action") if isinstance(action, dict) else None
        if kind not in ACTIONS:
            raise action_fail(f"unknown action {kind!r}; one of {sorted(ACTIONS)}", "action")
        actions.append(Action(kind, _check_keys(action, ACTION_KEYS[kind], action_fail,
                                                f"action {kind}", {"action"})))
    return Rule(name=str(rule_name), trigger=trigger, params=params, actions=tuple(actions),
                delay_days=int(raw.get("delay_days", 0)),
                window_days=int(raw.get("window_days", 30)),
                description=str(raw.get("description", "")))


def _check_trigger(trigger: str, params: dict[str, Any], raw: dict[str, Any],
                   fail: Callable[[str, str | None], PlaybookError],
                   stage_models: set[str] | None) -> None:
    """The rules between a trigger's keys (one of two, a model that exists)."""
    if trigger == "lapse" and ("factor" in params) == ("p_alive_below" in params):
        raise fail("lapse needs exactly one of factor (silence beyond factor x the "
                   "customer's own time between purchases) or p_alive_below", None)
    if trigger == "survey" and ("score_below" in params) == ("score_at_least" in params):
        raise fail("survey needs exactly one of score_below or score_at_least", None)
    if trigger == "stage_change" and stage_models is not None \
            and params["model"] not in stage_models:
        raise fail(f"unknown stage model {params['model']!r}; available: "
                   f"{sorted(stage_models)}", "model")
    if trigger == "complaint" and params.get("state", "opened") == "opened" \
            and "days" in raw:
        raise fail("days applies to state = \"unresolved\" only", "days")


def load_playbook_file(path: Path, *, stage_models: set[str] | None = None) -> Playbook:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlaybookError(f"cannot read: {exc.strerror}", file=str(path)) from exc
    return parse_playbook(text, file=str(path), stage_models=stage_models)


def builtin_playbooks() -> dict[str, Playbook]:
    books = (load_playbook_file(path) for path in sorted(BUILTIN_DIR.glob("*.toml")))
    return {book.name: Playbook(**{**book.__dict__, "builtin": True}) for book in books}
