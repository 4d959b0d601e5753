"""The Playbooks page: the playbook serving each level, recent runs, what happened
(with the holdout comparison), a dry run, and running them now (managers and admins)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from kithkin.api.deps import SessionDep
from kithkin.config import settings_of
from kithkin.dashboard import navigation
from kithkin.dashboard.navigation import ANALYTICS, OPERATIONS, Page, register_page
from kithkin.dashboard.web import PageRoute, flash, render, require_page
from kithkin.playbooks import service, views
from kithkin.users.models import StaffUser

PLAYBOOKS = register_page(Page("playbooks", "Playbooks", "/playbooks", ANALYTICS, order=47))
# Running creates tasks and messages for real people: a decision, not analysis.
PLAYBOOKS_RUN = register_page(Page("playbooks-run", "Run playbooks", "/playbooks",
                                   OPERATIONS, in_nav=False))

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PlaybooksUser = Annotated[StaffUser, Depends(require_page(PLAYBOOKS.key))]
RunUser = Annotated[StaffUser, Depends(require_page(PLAYBOOKS_RUN.key))]


@router.get("/playbooks")
def playbooks(request: Request, session: SessionDep, user: PlaybooksUser,
              dry_run: bool = False) -> Response:
    settings = settings_of(request.app.state)
    today = datetime.now(UTC).date()
    preview = service.dry_run(session=session, settings=settings, as_of=today) \
        if dry_run else None
    rows = views.what_happened(session=session, home=settings.home, as_of=today)
    for row in rows:
        row["texts"] = {name: views.comparison_text(item)
                        for name, item in row["comparison"].items()}
        row["skipped_text"] = views.skipped_text(row["skipped"])
    return render(request, "playbooks.html", user=user, active=PLAYBOOKS.key,
                  books=views.list_playbooks(home=settings.home),
                  runs=service.recent_runs(session=session, limit=10), rows=rows,
                  preview=preview, labels=views.OUTCOME_LABELS, today=today,
                  can_run=navigation.allowed(PLAYBOOKS_RUN.key, user.role))


@router.post("/playbooks/run")
def run(request: Request, user: RunUser) -> Response:
    settings = settings_of(request.app.state)
    report = service.run(engine=request.app.state.engine, settings=settings,
                         as_of=datetime.now(UTC).date(), mode="manual")
    totals = report.totals
    flash(request, f"Playbooks ran: {totals['new']} new trigger occurrences "
                   f"({totals['holdout']} held out), {totals['tasks']} tasks, "
                   f"{totals['messages']} messages, {totals['skipped']} skipped.")
    return RedirectResponse("/playbooks", status_code=303)
