"""Playbooks and reports as plain rows, shared by the CLI, the API, the dashboard and
the demo (one place decides what a row says)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from kithkin.playbooks import report
from kithkin.playbooks.definitions import Playbook
from kithkin.playbooks.schemas import ActionRead, PlaybookRead, RuleRead
from kithkin.playbooks.service import holdout_share
from kithkin.playbooks.workspace import active_playbooks, available_playbooks, load_config

OUTCOME_LABELS = {"bought_30d": "bought again within 30 days",
                  "bought_90d": "bought again within 90 days",
                  "moved_up_90d": "moved up within 90 days",
                  "moved_down_90d": "moved down within 90 days"}


def playbook_read(book: Playbook, *, serves: list[str], share: float) -> PlaybookRead:
    return PlaybookRead(
        name=book.name, level=book.level, title=book.title, source=book.source,
        description=book.description, path=book.path, builtin=book.builtin,
        serves_levels=serves, holdout_share=share,
        rules=[RuleRead(name=r.name, trigger=r.trigger, params=r.params,
                        delay_days=r.delay_days, window_days=r.window_days,
                        description=r.description,
                        actions=[ActionRead(action=a.action, params=a.params)
                                 for a in r.actions]) for r in book.rules])


def list_playbooks(*, home: Path) -> list[PlaybookRead]:
    config = load_config(home=home)
    active = active_playbooks(home=home, config=config)
    serves: dict[str, list[str]] = {}
    for level, book in active.items():
        serves.setdefault(book.name, []).append(level)
    return [playbook_read(book, serves=serves.get(book.name, []),
                          share=holdout_share(book, config))
            for book in available_playbooks(home=home).values()]


def percent(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1%}"


def comparison_text(item: dict[str, Any]) -> str:
    """One outcome's comparison as a sentence (rates, difference, interval, verdict)."""
    if item["difference"] is None:
        return (f"contacted {percent(item['contacted_rate'])} (n={item['contacted_n']}), "
                f"holdout {percent(item['holdout_rate'])} (n={item['holdout_n']}): "
                f"{item['verdict']}")
    return (f"contacted {percent(item['contacted_rate'])} (n={item['contacted_n']}) vs "
            f"holdout {percent(item['holdout_rate'])} (n={item['holdout_n']}): "
            f"{item['difference'] * 100:+.1f} pts (95% CI {item['low'] * 100:+.1f} to "
            f"{item['high'] * 100:+.1f}); {item['verdict']}")


def what_happened(*, session: Session, home: Path, as_of: date) -> list[dict[str, Any]]:
    config = load_config(home=home)
    return report.what_happened(session=session, as_of=as_of,
                                outcome_model=config.outcome_model)


def skipped_text(skipped: dict[str, int]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items())) or "none"
