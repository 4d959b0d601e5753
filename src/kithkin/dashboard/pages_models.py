"""The Analytics page: every `kithkin refresh` run with its fitted model parameters, how
well they fit (log-likelihood, the holdout check of kithkin.analytics.holdout), the
margin CLV used and where it came from, and the evidence the relationship engine found.

The same figures are in ``GET /api/v1/analytics/runs`` and printed by `kithkin refresh`;
this page is where a marketer finds them without reading JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from kithkin.analytics.models import MetricsRun
from kithkin.api.deps import SessionDep
from kithkin.dashboard import charts
from kithkin.dashboard.navigation import ANALYTICS, Page, register_page
from kithkin.dashboard.web import PageRoute, render, require_page
from kithkin.errors import NotFoundError
from kithkin.relationships.models import RelationshipRun
from kithkin.users.models import StaffUser

MODELS = register_page(Page("models", "Analytics", "/analytics", ANALYTICS, order=35))
RUNS_SHOWN = 24
FITTED = (("bg_nbd", "BG/NBD (purchases)"), ("mbg_nbd", "MBG/NBD (purchases)"),
          ("pareto_nbd", "Pareto/NBD (purchases)"), ("gamma_gamma", "Gamma-Gamma (spend)"))
MARGIN_SOURCES = {"data": "the data's own margin ratio", "option": "set with --margin",
                  "assumed": "unknown: no cost in the data, assumed (KITHKIN_DEFAULT_MARGIN)"}

router = APIRouter(route_class=PageRoute, include_in_schema=False)
ModelsUser = Annotated[StaffUser, Depends(require_page(MODELS.key))]


@dataclass(frozen=True)
class FittedModel:
    title: str
    params: list[tuple[str, float, float | None]]  # name, value, standard error
    log_likelihood: float | None
    customers: int | None


@dataclass(frozen=True)
class RunView:
    run: MetricsRun
    margin: float | None
    margin_note: str
    fitted: list[FittedModel]
    holdout: dict[str, Any] | None
    evidence: dict[str, Any] | None


def _fitted(params: dict[str, Any]) -> list[FittedModel]:
    models = []
    for key, title in FITTED:
        fitted = params.get(key)
        if not isinstance(fitted, dict):
            continue
        errors = fitted.get("standard_errors") or {}
        models.append(FittedModel(
            title=title, params=[(name, float(value), errors.get(name))
                                 for name, value in (fitted.get("params") or {}).items()],
            log_likelihood=fitted.get("log_likelihood"), customers=fitted.get("n_customers")))
    return models


def run_view(*, session: Session, run: MetricsRun) -> RunView:
    params = run.model_params or {}
    margin = params.get("margin")
    source = str(params.get("margin_source", "option" if margin is not None else ""))
    relationships = session.scalar(select(RelationshipRun).where(
        RelationshipRun.as_of == run.as_of).order_by(RelationshipRun.id.desc()).limit(1))
    holdout = params.get("holdout")
    return RunView(run=run, margin=margin if isinstance(margin, float) else None,
                   margin_note=MARGIN_SOURCES.get(source, source), fitted=_fitted(params),
                   holdout=holdout if isinstance(holdout, dict) else None,
                   evidence=relationships.evidence if relationships is not None else None)


def _holdout_chart(holdout: dict[str, Any]) -> charts.Chart | None:
    rows = holdout.get("by_frequency") or []
    if not rows or holdout.get("error"):
        return None
    return charts.bar_chart(
        "holdout-fit", f"Holdout: purchases in the {holdout['days']} days after "
        f"{holdout['calibration_end']}, actual vs predicted",
        categories=[r["frequency"] for r in rows],
        series={"actual": [r["actual_mean"] for r in rows],
                "predicted": [r["predicted_mean"] for r in rows]},
        x_title="purchases in the calibration period (repeat days)",
        y_title="mean purchases per customer")


@router.get("/analytics")
def analytics(request: Request, session: SessionDep, user: ModelsUser,
              as_of: date | None = None) -> Response:
    runs = list(session.scalars(select(MetricsRun).order_by(MetricsRun.as_of.desc())
                                .limit(RUNS_SHOWN)))
    chosen = None
    if as_of is not None:
        chosen = next((run for run in runs if run.as_of == as_of), None) or session.scalar(
            select(MetricsRun).where(MetricsRun.as_of == as_of))
        if chosen is None:
            raise NotFoundError(f"no refresh as of {as_of}")
    elif runs:
        chosen = runs[0]
    view = run_view(session=session, run=chosen) if chosen is not None else None
    chart = _holdout_chart(view.holdout) if view and view.holdout else None
    return render(request, "models.html", user=user, active=MODELS.key, runs=runs,
                  view=view, chart=chart)
