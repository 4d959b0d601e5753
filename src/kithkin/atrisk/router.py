"""/at-risk: the ranked at-risk list (JSON and CSV) and one customer's defection status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from kithkin.api.deps import CustomerScopeDep, SessionDep
from kithkin.api.params import IdPath, IdQuery
from kithkin.api.permissions import AnalyticsRead, CustomersRead
from kithkin.atrisk import service
from kithkin.atrisk.schemas import AtRiskPage, DefectionStatusRead

router = APIRouter(tags=["at risk"])
StageQuery = Annotated[str | None, Query(
    description="active, at_risk, defected or won_back; default at_risk and defected.")]
SegmentQuery = Annotated[str | None, Query(description="RFM segment, e.g. champions.")]
LevelQuery = Annotated[str | None, Query(
    description="Relationship level of the customer's RFM segment, e.g. proactive.")]
ManagerQuery = Annotated[IdQuery, Query(description="Account manager (staff user id).")]


@router.get("/at-risk", response_model=AtRiskPage)
def at_risk(session: SessionDep, _: CustomersRead, scope: CustomerScopeDep,
            stage: StageQuery = None, segment: SegmentQuery = None, level: LevelQuery = None,
            account_manager_id: ManagerQuery = None,
            limit: Annotated[int, Query(ge=1, le=1000)] = 50,
            offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> AtRiskPage:
    """Customers ranked by value at risk (CLV x at-risk score) as of the latest refresh
    (an agent: their own customers)."""
    return service.at_risk_list(session=session, stage=stage, segment=segment, level=level,
                                account_manager_id=account_manager_id, scope=scope,
                                limit=limit, offset=offset)


@router.get("/at-risk.csv", response_class=Response)
def at_risk_csv(session: SessionDep, _: AnalyticsRead, scope: CustomerScopeDep,
                stage: StageQuery = None, segment: SegmentQuery = None,
                level: LevelQuery = None, account_manager_id: ManagerQuery = None) -> Response:
    """The whole filtered list as CSV (the same rows and order as /at-risk)."""
    text = "".join(service.at_risk_csv(session=session, stage=stage, segment=segment,
                                       level=level, account_manager_id=account_manager_id,
                                       scope=scope))
    return Response(text, media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="at-risk.csv"'})


@router.get("/customers/{customer_id:int}/defection", response_model=DefectionStatusRead)
def defection(customer_id: IdPath, session: SessionDep, _: CustomersRead,
              scope: CustomerScopeDep) -> DefectionStatusRead:
    """Stage, since when, the at-risk score, P(alive) with its model, and every change
    with the rule and evidence that made it."""
    scope.check(session=session, customer_id=customer_id)
    return service.status(session=session, customer_id=customer_id)
