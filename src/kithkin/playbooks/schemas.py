"""API shapes of playbooks, runs and the "what happened" report."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from kithkin.fields import IsoDate


class ActionRead(BaseModel):
    action: str
    params: dict[str, object]


class RuleRead(BaseModel):
    name: str
    trigger: str
    params: dict[str, object]
    delay_days: int
    window_days: int
    description: str
    actions: list[ActionRead]


class PlaybookRead(BaseModel):
    name: str
    level: str
    title: str
    source: str
    description: str
    path: str
    builtin: bool
    serves_levels: list[str] = Field(description="Levels this playbook serves now.")
    holdout_share: float = Field(description="Share of customers not contacted.")
    rules: list[RuleRead]


class PlaybookText(BaseModel):
    text: str = Field(description="The playbook file's TOML text.")
    filename: str = Field(default="upload.toml", max_length=200)


class ValidationResult(BaseModel):
    valid: bool
    playbook: PlaybookRead | None = None
    error: str | None = None
    file: str | None = None
    line: int | None = None
    rule: str | None = None
    problem: str | None = None


class RuleRun(BaseModel):
    playbook: str
    level: str
    rule: str
    trigger: str
    due: int = Field(description="Occurrences due in the rule's window for its customers.")
    already: int = Field(description="Of those, acted on (or held out) by an earlier run.")
    new: int = Field(description="New firings: contacted + holdout.")
    holdout: int
    tasks: int = Field(description="Tasks created (would be, in a dry run).")
    messages: int = Field(description=(
        "Messages stored in the outbox (queued, or skipped there for the frequency cap); "
        "a dry run: the messages it would decide, before the queue-time checks."))
    skipped: dict[str, int] = Field(default_factory=dict, description=(
        "Firings an action skipped, by reason: message:<reason> for a message held back "
        "at queue time (no consent, no address...: recorded on the firing, no message "
        "stored), no_staff..."))
    failed: int = 0
    examples: list[dict[str, object]] = Field(
        default_factory=list, description="Dry run: up to 5 firings it would record.")


class RunReport(BaseModel):
    run_id: int | None
    as_of: date
    mode: str
    dry_run: bool
    seconds: float
    timings: dict[str, float] = Field(default_factory=dict)
    customers_by_level: dict[str, int]
    rules: list[RuleRun]

    @property
    def totals(self) -> dict[str, int]:
        found = {name: sum(int(getattr(r, name)) for r in self.rules)
                 for name in ("due", "new", "holdout", "tasks", "messages")}
        found["skipped"] = sum(sum(r.skipped.values()) for r in self.rules)
        return found


class HeldBackRead(BaseModel):
    """A message a playbook held back at queue time: its firing, and why."""

    firing_id: int
    customer_id: int
    playbook: str
    level: str
    rule: str
    trigger: str
    occurrence: str
    occurred_on: date
    fired_on: date
    reason: str = Field(description="The outbox's reason: no consent, no e-mail address...")


class RunRequest(BaseModel):
    as_of: IsoDate | None = Field(default=None, description="Default: today (UTC).")
    triggers: list[str] | None = Field(default=None, description="Only these triggers.")


class LevelOverrideBody(BaseModel):
    level: str
    reason: str | None = Field(default=None, max_length=2000)


class RunRead(BaseModel):
    id: int
    as_of: date
    mode: str
    fired: int
    holdout: int
    tasks: int
    messages: int
    skipped: int
    failed: int
    seconds: float | None
    error: str | None
    started_at: str
