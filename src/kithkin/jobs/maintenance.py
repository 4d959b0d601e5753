"""Scheduled backups (keep N) and the retention policy inside `kithkin serve`.

Both run in worker threads through :class:`RefreshScheduler`, so requests keep being
served; each is off until its setting is given (``backup_interval_hours``, any
``policy_*`` rule). Their audit rows name the ``scheduler`` as the actor.
"""

from __future__ import annotations

from fastapi import FastAPI

from kithkin.audit import context as audit_context
from kithkin.config import Settings
from kithkin.database.core import session_scope
from kithkin.jobs.scheduler import RefreshScheduler


def _as_scheduler(name: str) -> audit_context.AuditContext:
    return audit_context.AuditContext(source="scheduler", label=f"scheduler:{name}")


def start_maintenance(app: FastAPI) -> list[RefreshScheduler]:
    """Start the schedulers the settings ask for; the caller stops them."""
    settings: Settings = app.state.settings
    engine = app.state.engine
    started: list[RefreshScheduler] = []
    if settings.backup_interval_hours is not None:
        def backup() -> None:
            from kithkin.backup import service as backup_service

            with audit_context.acting(_as_scheduler("backup")):
                result = backup_service.create_backup(settings=settings, engine=engine)
                backup_service.prune_backups(folder=result.archive.parent,
                                             keep=settings.backup_keep)

        started.append(RefreshScheduler(interval_seconds=settings.backup_interval_hours * 3600,
                                        run=backup, name="backup"))
    from kithkin.policy import service as policy_service

    if policy_service.any_rule_set(settings):
        def policy() -> None:
            with audit_context.acting(_as_scheduler("policy")), \
                    session_scope(engine) as session:
                policy_service.run_policy(session=session, settings=settings, dry_run=False)

        started.append(RefreshScheduler(interval_seconds=settings.policy_interval_hours * 3600,
                                        run=policy, name="retention policy"))
    for scheduler in started:
        scheduler.start()
    app.state.maintenance = started
    return started
