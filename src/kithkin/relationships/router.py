"""/relationships: stage models, a customer's assessment, history reports, levels."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from kithkin.api.deps import CustomerScopeDep, SessionDep, SettingsDep
from kithkin.api.params import DateQuery, IdPath
from kithkin.api.permissions import AnalyticsAdmin, AnalyticsRead, CustomersRead
from kithkin.fields import IsoDate
from kithkin.relationships import reports, service
from kithkin.relationships.schemas import (
    CustomerExplanation,
    LevelOverride,
    SegmentLevelRead,
    StageModelRead,
    StageRead,
    TransitionReport,
)
from kithkin.relationships.workspace import available_models, get_model, load_config

router = APIRouter(prefix="/relationships", tags=["relationships"])


@router.get("/models", response_model=list[StageModelRead])
def list_models(session: SessionDep, settings: SettingsDep,
                _: AnalyticsRead) -> list[StageModelRead]:
    active = set(load_config(home=settings.home).active_models)
    used = reports.presets_used(session=session)
    return [StageModelRead(
        name=m.name, title=m.title, source=m.source, description=m.description,
        path=m.path, active=m.name in active, preset_in_use=used.get(m.name),
        stages=[StageRead(name=s.name, rank=s.rank, goal=s.goal, goal_metric=s.goal_metric,
                          description=s.description, rule=s.rule.text) for s in m.stages])
        for m in available_models(home=settings.home).values()]


@router.get("/customers/{customer_id:int}", response_model=CustomerExplanation)
def explain_customer(customer_id: IdPath, session: SessionDep, settings: SettingsDep,
                     _: CustomersRead, scope: CustomerScopeDep) -> CustomerExplanation:
    scope.check(session=session, customer_id=customer_id)
    return service.explain(session=session, settings=settings, customer_id=customer_id)


@router.get("/reports/{model}/distribution")
def distribution(model: str, session: SessionDep, settings: SettingsDep,
                 _: AnalyticsRead) -> list[dict[str, Any]]:
    table = reports.distribution(session=session, model=get_model(model, home=settings.home))
    return [{"as_of": as_of, **{k: int(v) for k, v in row.items()}}
            for as_of, row in table.iterrows()]


@router.get("/reports/{model}/transitions", response_model=TransitionReport)
def transitions(model: str, start: Annotated[IsoDate, Query()], end: Annotated[IsoDate, Query()],
                session: SessionDep, settings: SettingsDep,
                _: AnalyticsRead) -> TransitionReport:
    definition = get_model(model, home=settings.home)
    counts, rates = reports.transitions(session=session, model=definition, start=start,
                                        end=end)
    return TransitionReport(start=start, end=end, stages=definition.stage_names,
                            counts=counts.to_dict(orient="index"),
                            rates=rates.to_dict(orient="index"))


@router.get("/reports/{model}/funnel")
def funnel(model: str, session: SessionDep, settings: SettingsDep, _: AnalyticsRead,
           end: DateQuery = None) -> list[dict[str, Any]]:
    table = reports.conversion_funnel(session=session,
                                      model=get_model(model, home=settings.home), end=end)
    return [dict(row) for row in table.astype(object).where(table.notna(), None)
            .to_dict(orient="records")]


@router.get("/reports/moved-down")
def moved_down(session: SessionDep, _: AnalyticsRead, scope: CustomerScopeDep,
               model: Annotated[str | None, Query()] = None) -> list[dict[str, Any]]:
    """Customers who moved down at the latest refresh (an agent: their own)."""
    return [dict(row) for row in reports.moved_down(
        session=session, model=model, scope=scope).to_dict(orient="records")]


@router.get("/levels", response_model=list[SegmentLevelRead])
def list_levels(session: SessionDep, _: AnalyticsRead,
                kind: Annotated[str | None, Query()] = None) -> list[SegmentLevelRead]:
    return [SegmentLevelRead.model_validate(row)
            for row in service.list_segment_levels(session=session, kind=kind)]


@router.put("/levels/{kind}/{segment}/override", response_model=SegmentLevelRead)
def override_level(kind: str, segment: str, body: LevelOverride, session: SessionDep,
                   user: AnalyticsAdmin) -> SegmentLevelRead:
    row = service.set_level_override(session=session, kind=kind, segment=segment,
                                     level=body.level, by=user.email, reason=body.reason)
    return SegmentLevelRead.model_validate(row)


@router.delete("/levels/{kind}/{segment}/override", response_model=SegmentLevelRead)
def clear_override(kind: str, segment: str, session: SessionDep,
                   _: AnalyticsAdmin) -> SegmentLevelRead:
    return SegmentLevelRead.model_validate(
        service.clear_level_override(session=session, kind=kind, segment=segment))
