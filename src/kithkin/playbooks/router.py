"""/playbooks: list, validate and install playbook files, dry-run, run, runs, report,
the messages held back, and a customer's own level."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from kithkin.api.deps import CustomerScopeDep, SessionDep, SettingsDep
from kithkin.api.params import IdPath
from kithkin.api.permissions import PlaybooksAdmin, PlaybooksRead, PlaybooksWrite
from kithkin.fields import IsoDate
from kithkin.playbooks import audience, held, service, views
from kithkin.playbooks.definitions import PlaybookError
from kithkin.playbooks.schemas import (
    HeldBackRead,
    LevelOverrideBody,
    PlaybookRead,
    PlaybookText,
    RunRead,
    RunReport,
    RunRequest,
    ValidationResult,
)
from kithkin.playbooks.service import holdout_share
from kithkin.playbooks.workspace import install_text, load_config, validate_text

router = APIRouter(prefix="/playbooks", tags=["playbooks"])


def _today(value: date | None) -> date:
    return value or datetime.now(UTC).date()


@router.get("", response_model=list[PlaybookRead])
def list_playbooks(settings: SettingsDep, _: PlaybooksRead) -> list[PlaybookRead]:
    """Every available playbook, the levels it serves now and its holdout share."""
    return views.list_playbooks(home=settings.home)


@router.post("/validate", response_model=ValidationResult)
def validate(body: PlaybookText, settings: SettingsDep, _: PlaybooksRead) -> ValidationResult:
    """Check a playbook file's text; an invalid one says file, line, rule and problem."""
    try:
        book = validate_text(body.text, file=body.filename, home=settings.home)
    except PlaybookError as exc:
        return ValidationResult(valid=False, error=str(exc), file=exc.file, line=exc.line,
                                rule=exc.rule, problem=exc.problem)
    config = load_config(home=settings.home)
    return ValidationResult(valid=True, playbook=views.playbook_read(
        book, serves=[], share=holdout_share(book, config)))


@router.post("/install", response_model=PlaybookRead, status_code=201)
def install(body: PlaybookText, settings: SettingsDep, _: PlaybooksAdmin) -> PlaybookRead:
    """Validate and install a playbook; an invalid file (422) changes nothing."""
    book = install_text(body.text, file=body.filename, home=settings.home)
    return next(b for b in views.list_playbooks(home=settings.home) if b.name == book.name)


@router.post("/dry-run", response_model=RunReport)
def dry_run(body: RunRequest, session: SessionDep, settings: SettingsDep,
            _: PlaybooksRead) -> RunReport:
    """What a run would create now, per rule (with examples); writes nothing."""
    return service.dry_run(session=session, settings=settings, as_of=_today(body.as_of),
                           only=set(body.triggers) if body.triggers else None)


@router.post("/run", response_model=RunReport)
def run(body: RunRequest, request: Request, settings: SettingsDep,
        _: PlaybooksWrite) -> RunReport:
    """Run the playbooks now: each trigger occurrence acts once, however often this runs."""
    return service.run(engine=request.app.state.engine, settings=settings,
                       as_of=_today(body.as_of), mode="manual",
                       only=set(body.triggers) if body.triggers else None)


@router.get("/runs", response_model=list[RunRead])
def runs(session: SessionDep, _: PlaybooksRead,
         limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[RunRead]:
    return [RunRead(id=r.id, as_of=r.as_of, mode=r.mode, fired=r.fired, holdout=r.holdout,
                    tasks=r.tasks, messages=r.messages, skipped=r.skipped, failed=r.failed,
                    seconds=r.seconds, error=r.error, started_at=r.started_at.isoformat())
            for r in service.recent_runs(session=session, limit=limit)]


@router.get("/held-back", response_model=list[HeldBackRead])
def held_back(session: SessionDep, _: PlaybooksRead, scope: CustomerScopeDep,
              customer_id: Annotated[int | None, Query(ge=1)] = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[HeldBackRead]:
    """Messages the playbooks held back at queue time (no consent, no address...),
    newest first: recorded on the firing, not stored as messages (an agent sees their
    own customers')."""
    if customer_id is not None:
        scope.check(session=session, customer_id=customer_id)
    return held.held_back(session=session, customer_id=customer_id, limit=limit,
                          scope=scope)


@router.get("/report")
def report(session: SessionDep, settings: SettingsDep, _: PlaybooksRead,
           as_of: Annotated[IsoDate | None, Query()] = None) -> list[dict[str, Any]]:
    """Per playbook, level and rule: firings, holdout, tasks (done), messages (sent,
    skipped by reason, failed), and the next-step rates of contacted customers against
    the holdout with a 95 % interval (or "too few to tell")."""
    return views.what_happened(session=session, home=settings.home, as_of=_today(as_of))


@router.put("/customers/{customer_id:int}/level")
def set_level(customer_id: IdPath, body: LevelOverrideBody, session: SessionDep,
              user: PlaybooksWrite, scope: CustomerScopeDep) -> dict[str, Any]:
    """Serve one customer at a level of its own (wins over its segment's level)."""
    scope.check(session=session, customer_id=customer_id)
    row = audience.set_customer_level(session=session, customer_id=customer_id,
                                      level=body.level, by=user.email, reason=body.reason)
    session.commit()
    return {"customer_id": customer_id, "level": row.level, "source": "override"}


@router.delete("/customers/{customer_id:int}/level")
def clear_level(customer_id: IdPath, session: SessionDep, settings: SettingsDep,
                _: PlaybooksWrite, scope: CustomerScopeDep) -> dict[str, Any]:
    """Back to the segment's level."""
    scope.check(session=session, customer_id=customer_id)
    audience.clear_customer_level(session=session, customer_id=customer_id)
    session.commit()
    found, source = audience.level_of(session=session, customer_id=customer_id,
                                      segment_kind=load_config(home=settings.home).segment_kind)
    return {"customer_id": customer_id, "level": found, "source": source}
