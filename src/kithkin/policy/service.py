"""The retention policy: personal data kept no longer than the firm decided.

Three rules, each off unless set in Settings:

- prospects never converted, captured (or created) ``policy_prospect_months`` ago or
  more, are anonymised (names, company, email, phone, competitor and attributes cleared,
  ``external_id`` replaced, their interactions' text cleared) or deleted;
- interactions older than ``policy_interaction_text_years`` lose their free text
  (``subject``, ``text``); kind, time, score and status stay for the statistics;
- uploaded import files and reject files older than ``policy_upload_days`` are deleted.

Each run, dry runs included, writes one audit row with what it did (or would do), and
the writes are set-based, so the audit holds a summary rather than before-images of the
data being removed (which would defeat the point). Re-running is idempotent: what was
anonymised or cleared no longer matches.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import String, cast, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from kithkin.audit import service as audit_service
from kithkin.audit.models import AuditKind
from kithkin.config import Settings
from kithkin.imports.uploads import remove_stale_uploads
from kithkin.interactions.models import Interaction
from kithkin.prospects.models import Prospect, ProspectStatus

ANONYMISED_PREFIX = "anonymised:"
CHUNK = 10_000


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (clamped to month end)."""
    year, month0 = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    last_day = calendar.monthrange(year, month0 + 1)[1]
    return moment.replace(year=year, month=month0 + 1, day=min(moment.day, last_day))


@dataclass
class RuleResult:
    rule: str
    setting: str
    cutoff: datetime | None
    affected: int | None = None  # None: the rule is off
    detail: str = ""


@dataclass
class PolicyReport:
    dry_run: bool
    ran_at: datetime
    rules: list[RuleResult] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would affect" if self.dry_run else "affected"
        parts = [f"{r.rule}: off" if r.affected is None else
                 f"{r.rule}: {verb} {r.affected}{' ' + r.detail if r.detail else ''}"
                 for r in self.rules]
        return "; ".join(parts)


def _stale_prospects(cutoff: datetime) -> tuple[ColumnElement[bool], ...]:
    return (Prospect.converted_customer_id.is_(None),
            Prospect.status != ProspectStatus.CONVERTED.value,
            func.coalesce(Prospect.captured_at, Prospect.created_at) < cutoff,
            ~Prospect.external_id.startswith(ANONYMISED_PREFIX))


def _prospects(session: Session, settings: Settings, now: datetime,
               dry_run: bool) -> RuleResult:
    months = settings.policy_prospect_months
    action = settings.policy_prospect_action
    if months is None:
        return RuleResult("prospects", "policy_prospect_months", None)
    cutoff = months_before(now, months)
    criteria = _stale_prospects(cutoff)
    ids = list(session.scalars(select(Prospect.id).where(*criteria)))
    result = RuleResult("prospects", "policy_prospect_months", cutoff, len(ids),
                        f"({'anonymised' if action == 'anonymise' else 'deleted'}, never "
                        f"converted, before {cutoff.date()})")
    if dry_run or not ids:
        return result
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        if action == "delete":
            session.execute(delete(Interaction).where(Interaction.prospect_id.in_(chunk)))
            session.execute(delete(Prospect).where(Prospect.id.in_(chunk)))
        else:
            session.execute(update(Interaction).where(Interaction.prospect_id.in_(chunk))
                            .values(subject=None, text=None))
            session.execute(update(Prospect).where(Prospect.id.in_(chunk)).values(
                first_name=None, last_name=None, company=None, email=None,
                email_normalized=None, phone_e164=None, competitor=None, attributes=None,
                external_id=literal(ANONYMISED_PREFIX) + cast(Prospect.id, String)))
    return result


def _interaction_text(session: Session, settings: Settings, now: datetime,
                      dry_run: bool) -> RuleResult:
    years = settings.policy_interaction_text_years
    if years is None:
        return RuleResult("interaction text", "policy_interaction_text_years", None)
    cutoff = months_before(now, 12 * years)
    criteria = (Interaction.occurred_at < cutoff,
                or_(Interaction.text.is_not(None), Interaction.subject.is_not(None)))
    count = int(session.scalar(select(func.count()).select_from(Interaction)
                               .where(*criteria)) or 0)
    if not dry_run and count:
        session.execute(update(Interaction).where(*criteria).values(subject=None, text=None),
                        execution_options={"synchronize_session": False})
    return RuleResult("interaction text", "policy_interaction_text_years", cutoff, count,
                      f"(subject and text cleared, occurred before {cutoff.date()})")


def _uploads(session: Session, settings: Settings, now: datetime,
             dry_run: bool) -> RuleResult:
    days = settings.policy_upload_days
    if days is None:
        return RuleResult("uploads", "policy_upload_days", None)
    removed: list[Path] = []
    for folder in (settings.uploads_dir, settings.rejects_dir):
        removed += remove_stale_uploads(session=session, folder=folder,
                                        older_than=timedelta(days=days), now=now,
                                        dry_run=dry_run)
    return RuleResult("uploads", "policy_upload_days", now - timedelta(days=days),
                      len(removed), "(upload and reject files)")


def run_policy(*, session: Session, settings: Settings, dry_run: bool,
               now: datetime | None = None) -> PolicyReport:
    """Apply (or, with ``dry_run``, only count) every rule that is set; audited."""
    moment = now or datetime.now(UTC)
    report = PolicyReport(dry_run=dry_run, ran_at=moment)
    for rule in (_prospects, _interaction_text, _uploads):
        report.rules.append(rule(session, settings, moment, dry_run))
    audit_service.record(
        session=session, kind=AuditKind.POLICY, action="dry_run" if dry_run else "run",
        summary=report.summary(),
        changes={r.rule: [r.setting, r.affected] for r in report.rules})
    return report


def any_rule_set(settings: Settings) -> bool:
    return any(value is not None for value in (
        settings.policy_prospect_months, settings.policy_interaction_text_years,
        settings.policy_upload_days))
