"""How long customers stay: Kaplan-Meier curves with confidence bands, and a Cox model.

A customer's lifetime runs from the first purchase. Without a stated ending (contracts
are rare in retail), a customer counts as *lapsed* as of a date when their last
purchase is more than ``lapse_days`` before it; the lifetime then ends at that last
purchase (event). Otherwise it is censored at the as-of date. Everything is read from
the metric history (``customer_metric`` rows of the latest refresh on or before the
as-of date), so the curves answer "as of" any refreshed date.

Kaplan-Meier (Kaplan & Meier 1958) with Greenwood's variance and the log(-log)
confidence interval (Kalbfleisch & Prentice 2002), the same as lifelines' default, which
the tests compare against. The Cox proportional-hazards model is lifelines' fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sqlalchemy import text
from sqlalchemy.orm import Session

from kithkin.errors import ValidationError
from kithkin.relationships import bonds
from kithkin.relationships.levels import Level

DEFAULT_LAPSE_DAYS = 365
LEVEL_RANK = {level.value: rank for rank, level in enumerate(Level)}
_BOND_INPUTS = ("has_loyalty", "membership_tier", "has_subscription", "interactions_90d",
                "two_way_ratio", "ideas", "has_contract", "active_memberships")


class SurvivalError(ValidationError):
    """Not enough data for a survival figure (the message says what is missing)."""


@dataclass(frozen=True)
class Curve:
    """A Kaplan-Meier curve: at each distinct time, survival and its band."""

    label: str
    n: int
    events: int
    times: list[float]
    survival: list[float]
    lower: list[float]
    upper: list[float]

    def at(self, day: float) -> float | None:
        """Survival at ``day`` (None past the last observed time)."""
        if not self.times or day > self.times[-1]:
            return None
        index = int(np.searchsorted(self.times, day, side="right")) - 1
        return 1.0 if index < 0 else self.survival[index]


def kaplan_meier(durations: Sequence[float] | np.ndarray, observed: Sequence[bool] | np.ndarray,
                 *, label: str = "all", alpha: float = 0.05) -> Curve:
    """Product-limit estimate with Greenwood's variance and log(-log) bands."""
    t = np.asarray(durations, dtype=float)
    e = np.asarray(observed, dtype=bool)
    if len(t) == 0:
        raise SurvivalError(f"{label}: no customers")
    times = np.unique(t)
    at_risk = np.array([(t >= x).sum() for x in times], dtype=float)
    deaths = np.array([(e & (t == x)).sum() for x in times], dtype=float)
    survival = np.cumprod(1 - deaths / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(np.where(at_risk > deaths,
                                       deaths / (at_risk * (at_risk - deaths)), 0.0))
        z = stats.norm.ppf(1 - alpha / 2)
        log_s = np.log(survival)
        spread = z * np.sqrt(greenwood) / np.abs(log_s)
        lower = np.exp(-np.exp(np.log(-log_s) + spread))
        upper = np.exp(-np.exp(np.log(-log_s) - spread))
    done = survival <= 0
    lower = np.where(done, 0.0, np.where(np.isfinite(lower), lower, 1.0))
    upper = np.where(done, 0.0, np.where(np.isfinite(upper), upper, 1.0))
    return Curve(label=label, n=len(t), events=int(e.sum()), times=times.tolist(),
                 survival=survival.tolist(), lower=lower.tolist(), upper=upper.tolist())


def metric_as_of(session: Session, as_of: date) -> date | None:
    """The latest refreshed as-of on or before ``as_of``."""
    found = session.execute(text("SELECT max(as_of) FROM customer_metric WHERE as_of <= :d"),
                            {"d": as_of}).scalar()
    if found is None:
        return None
    return found if isinstance(found, date) else date.fromisoformat(str(found))


def default_as_of(session: Session, today: date) -> date:
    """The data's own "now": the latest refresh on or before today (figures as of today
    on data that ends earlier would count everyone as gone), else today."""
    return metric_as_of(session, today) or today


def lifetimes(session: Session, *, as_of: date, lapse_days: int = DEFAULT_LAPSE_DAYS,
              stage_model: str = "journey") -> pd.DataFrame:
    """One row per customer with a purchase as of the refresh on or before ``as_of``:
    duration (days), lapsed (event), cohort (first-purchase month and year), bond count,
    stage and level in ``stage_model`` and overall health (these two are the current
    relationship results: the engine keeps no per-date profile), and CLV."""
    refreshed = metric_as_of(session, as_of)
    if refreshed is None:
        raise SurvivalError(f"no metrics refreshed on or before {as_of}: run kithkin refresh")
    columns = ", ".join(f"m.{c}" for c in _BOND_INPUTS)
    frame = pd.read_sql_query(text(
        f"SELECT m.customer_id, m.first_purchase_at, m.last_purchase_at, m.clv, {columns} "
        "FROM customer_metric m JOIN customer c ON c.id = m.customer_id "
        "WHERE m.as_of = :d AND m.first_purchase_at IS NOT NULL "
        "AND c.merged_into_id IS NULL AND c.erased_at IS NULL"),
        session.connection(), params={"d": refreshed})
    first = pd.to_datetime(frame["first_purchase_at"], utc=True, format="mixed")
    last = pd.to_datetime(frame["last_purchase_at"], utc=True, format="mixed")
    end = pd.Timestamp(refreshed, tz="UTC") + pd.Timedelta(days=1)
    lapsed = (end - last).dt.total_seconds() / 86400 > lapse_days
    stop = last.where(lapsed, end)
    frame["duration"] = ((stop - first).dt.total_seconds() / 86400).clip(lower=0.0)
    frame["lapsed"] = lapsed.to_numpy()
    frame["cohort_month"] = first.dt.strftime("%Y-%m")
    frame["cohort_year"] = first.dt.strftime("%Y")
    inventory = bonds.inventory(frame)
    kinds = [f"bond_{kind}" for kind in bonds.BOND_KINDS]
    frame["bond_count"] = (inventory[kinds].to_numpy() > 0).sum(axis=1)
    relation = pd.read_sql_query(text(
        "SELECT s.customer_id, s.stage, p.health_overall AS health, "
        "coalesce(l.override_level, l.recommended_level) AS level "
        "FROM customer_stage s LEFT JOIN relationship_profile p "
        "ON p.customer_id = s.customer_id LEFT JOIN segment_level l "
        "ON l.kind = :kind AND l.segment = s.stage WHERE s.model = :model"),
        session.connection(), params={"model": stage_model, "kind": f"stage:{stage_model}"})
    frame = frame.merge(relation, on="customer_id", how="left")
    frame["level_rank"] = frame["level"].map(LEVEL_RANK)
    frame.attrs["metrics_as_of"] = refreshed
    frame.attrs["lapse_days"] = lapse_days
    return frame.drop(columns=list(_BOND_INPUTS))


def curves_by(frame: pd.DataFrame, column: str | None, *, min_size: int = 20,
              limit: int = 8) -> list[Curve]:
    """One curve per value of ``column`` (the largest ``limit`` groups with at least
    ``min_size`` customers; unknown values left out), or one for all."""
    if column is None:
        return [kaplan_meier(frame["duration"], frame["lapsed"], label="all customers")]
    known = frame[frame[column].notna()]
    sizes = known[column].value_counts()
    kept = sorted(sizes[sizes >= min_size].index[:limit].tolist(), key=str)
    return [kaplan_meier(part["duration"], part["lapsed"], label=f"{column} {value}")
            for value, part in ((v, known[known[column] == v]) for v in kept)]


@dataclass(frozen=True)
class HazardRatio:
    covariate: str
    hazard_ratio: float
    lower: float
    upper: float
    p: float


@dataclass(frozen=True)
class CoxResult:
    n: int
    events: int
    dropped: int  # customers left out for an unknown covariate
    ratios: list[HazardRatio]
    concordance: float


COX_COVARIATES = {"bond_count": "per bond kind", "health": "per 10 health points",
                  "level_rank": "per level step"}


def cox(frame: pd.DataFrame, covariates: Sequence[str] = tuple(COX_COVARIATES)) -> CoxResult:
    """Cox proportional hazards of lapsing on the covariates; HR above 1 shortens
    lifetimes. Health is scaled per 10 points so its ratio reads on a useful step.
    Covariates with no variation are left out (their ratio cannot be estimated)."""
    from lifelines import CoxPHFitter  # heavy import (matplotlib): only when fitting

    data = frame[["duration", "lapsed", *covariates]].copy()
    if "health" in data:
        data["health"] = data["health"] / 10
    complete = data.dropna()
    usable = [c for c in covariates if complete[c].nunique() > 1]
    if not usable or complete["lapsed"].sum() < 5:
        raise SurvivalError("Cox model: too few lapsed customers or no varying covariate "
                            f"({int(complete['lapsed'].sum())} events)")
    fitter = CoxPHFitter(penalizer=0.0)
    fitter.fit(complete[["duration", "lapsed", *usable]].assign(
        duration=complete["duration"].clip(lower=1e-3)), duration_col="duration",
        event_col="lapsed")
    summary = fitter.summary
    ratios = [HazardRatio(covariate=c, hazard_ratio=float(summary.loc[c, "exp(coef)"]),
                          lower=float(summary.loc[c, "exp(coef) lower 95%"]),
                          upper=float(summary.loc[c, "exp(coef) upper 95%"]),
                          p=float(summary.loc[c, "p"])) for c in usable]
    return CoxResult(n=len(complete), events=int(complete["lapsed"].sum()),
                     dropped=len(data) - len(complete), ratios=ratios,
                     concordance=float(fitter.concordance_index_))


def retention_by(frame: pd.DataFrame, column: str, *, horizon_days: int = 365
                 ) -> list[dict[str, Any]]:
    """Per group: customers, lapsed share (churn) and the KM share still buying
    ``horizon_days`` after the first purchase (retention; None when no customer of the
    group has been watched that long)."""
    rows = []
    for value, part in frame[frame[column].notna()].groupby(column, sort=True):
        curve = kaplan_meier(part["duration"], part["lapsed"], label=str(value))
        rows.append({"group": str(value), "customers": len(part),
                     "lapsed": int(part["lapsed"].sum()),
                     "churn": float(part["lapsed"].mean()),
                     "retention": curve.at(horizon_days)})
    return rows
