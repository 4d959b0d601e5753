"""Stage flows (history of one stage model between two refreshes) and segment levels
(Kotler's recommendation per segment, with overrides by managers)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from kithkin.api.deps import SessionDep
from kithkin.config import settings_of
from kithkin.dashboard import navigation, stage_flows
from kithkin.dashboard.navigation import ANALYTICS, OPERATIONS, Page, register_page
from kithkin.dashboard.web import PageRoute, flash, render, require_page, templates
from kithkin.errors import ValidationError
from kithkin.relationships import service as relationship_service
from kithkin.relationships.levels import Level, margin_text
from kithkin.relationships.workspace import active_models
from kithkin.users.models import StaffUser

STAGES = register_page(Page("stages", "Stage flows", "/stages", ANALYTICS, order=40))
LEVELS = register_page(Page("levels", "Segment levels", "/levels", ANALYTICS, order=45))
# Changing a level is a decision, not analysis: only these roles may post an override.
LEVEL_OVERRIDE = register_page(Page("levels-override", "Override segment levels",
                                    "/levels", OPERATIONS, in_nav=False))

router = APIRouter(route_class=PageRoute, include_in_schema=False)
# "unknown (assumed 25%)" rather than a margin nobody measured passed off as a fact
templates.env.filters["margin_rate"] = margin_text

StagesUser = Annotated[StaffUser, Depends(require_page(STAGES.key))]
LevelsUser = Annotated[StaffUser, Depends(require_page(LEVELS.key))]
OverrideUser = Annotated[StaffUser, Depends(require_page(LEVEL_OVERRIDE.key))]


@router.get("/stages")
def stages(request: Request, session: SessionDep, user: StagesUser, model: str = "",
           start: date | None = None, end: date | None = None) -> Response:
    definitions = {m.name: m for m in active_models(home=settings_of(request.app.state).home)}
    models = list(definitions)
    model = model or models[0]
    if model not in models:
        raise ValidationError(f"unknown stage model {model!r}; one of {', '.join(models)}")
    flows = stage_flows.load(session=session, model=definitions[model], start=start, end=end)
    return render(request, "stages.html", user=user, active=STAGES.key, models=models,
                  model=model, flows=flows)


@router.get("/levels")
def levels(request: Request, session: SessionDep, user: LevelsUser) -> Response:
    return render(request, "levels.html", user=user, active=LEVELS.key,
                  rows=relationship_service.list_segment_levels(session=session),
                  levels=[level.value for level in Level],
                  assumed_margin=settings_of(request.app.state).default_margin,
                  can_override=navigation.allowed(LEVEL_OVERRIDE.key, user.role))


@router.post("/levels/override")
def override(request: Request, session: SessionDep, user: OverrideUser,
             kind: Annotated[str, Form()], segment: Annotated[str, Form()],
             level: Annotated[str, Form()],
             reason: Annotated[str, Form()] = "") -> Response:
    row = relationship_service.set_level_override(
        session=session, kind=kind, segment=segment, level=level, by=user.email,
        reason=reason.strip() or None)
    session.commit()
    flash(request, f"{row.segment} ({row.kind}) is now at level {row.level}.")
    return RedirectResponse("/levels", status_code=303)


@router.post("/levels/clear")
def clear(request: Request, session: SessionDep, user: OverrideUser,
          kind: Annotated[str, Form()], segment: Annotated[str, Form()]) -> Response:
    row = relationship_service.clear_level_override(session=session, kind=kind,
                                                    segment=segment)
    session.commit()
    flash(request, f"Override cleared: {row.segment} ({row.kind}) is back at the "
                   f"recommended level {row.level}.")
    return RedirectResponse("/levels", status_code=303)
