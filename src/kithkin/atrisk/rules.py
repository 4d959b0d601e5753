"""Defection stages: active -> at risk -> defected -> won back, each move dated and
explained.

Rules, first match wins, for every customer with a purchase (customers without one have
no stage: nothing can be said about leaving what was never joined):

1. **membership_ended** -> defected, on the day the last membership ended: every
   membership (contract, subscription, loyalty) has ended and nothing was bought since.
2. **silence** -> defected, on the day the silence crossed ``defected_silence_multiple``
   x the customer's own inter-purchase time (recency / repeat purchases, floored at
   ``min_pace_days``; a one-time buyer has no pace of their own and is measured by the
   median pace of the repeat buyers, which the evidence says).
3. **score** -> at risk, on the refresh day: the at-risk score reached ``at_risk_threshold``.
4. **silence** -> at risk, on the day the silence crossed ``at_risk_silence_multiple`` x
   the pace.
5. otherwise active.

History: a defected customer stays defected until a purchase after the defection day,
which makes them **won back** on that purchase's day (the latest purchase seen by the
refresh); a won-back customer stays so until a rule marks them at risk or defected again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from kithkin.analytics.periods import EPOCH, day_of

ACTIVE, AT_RISK, DEFECTED, WON_BACK = "active", "at_risk", "defected", "won_back"
STAGES = (ACTIVE, AT_RISK, DEFECTED, WON_BACK)
STAGE_LABELS = {ACTIVE: "active", AT_RISK: "at risk", DEFECTED: "defected",
                WON_BACK: "won back"}


@dataclass(frozen=True)
class Limits:
    at_risk_threshold: float = 0.8
    at_risk_silence_multiple: float = 2.0
    defected_silence_multiple: float = 4.0
    min_pace_days: float = 30.0


def _iso(day: float) -> str | None:
    if not np.isfinite(day):
        return None
    return (EPOCH + timedelta(days=int(day))).isoformat()


def assign(block: pd.DataFrame, previous: pd.DataFrame, *, as_of: date,
           limits: Limits) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stages as of ``as_of`` and the changes since ``previous``.

    ``block``: customer_id, frequency, recency, T (days; null without a purchase),
    at_risk, and the membership signals (active_memberships, ended_memberships,
    last_membership_end_day, last_ended_kind). ``previous``: customer_id,
    defection_stage, defection_since of the last refresh before (may be empty).
    Returns (customer_id, defection_stage, defection_since) for every block row, and
    the change rows (customer_id, changed_on, from_stage, to_stage, rule, score,
    evidence).
    """
    today = day_of(as_of)
    n = len(block)
    bought = block["frequency"].notna().to_numpy()
    x = block["frequency"].to_numpy(dtype=float)
    tx = block["recency"].to_numpy(dtype=float)
    age = block["T"].to_numpy(dtype=float)
    silence = age - tx
    last_day = today - silence
    repeat = bought & (x > 0)
    own = np.where(repeat, tx / np.where(repeat, x, 1.0), np.nan)
    typical = float(np.median(own[repeat])) if repeat.any() else np.nan
    pace = np.maximum(np.where(repeat, own, typical), limits.min_pace_days)
    pace = np.where(np.isfinite(pace), pace, limits.min_pace_days)
    score = block["at_risk"].to_numpy(dtype=float) if "at_risk" in block else np.full(n, np.nan)

    def col(name: str) -> np.ndarray:
        return (block[name].to_numpy(dtype=float) if name in block
                else np.full(n, np.nan))

    active_members = np.nan_to_num(col("active_memberships"))
    ended_members = np.nan_to_num(col("ended_memberships"))
    end_day = col("last_membership_end_day")
    kinds = (block["last_ended_kind"].to_numpy(dtype=object) if "last_ended_kind" in block
             else np.full(n, None, dtype=object))

    rule = np.full(n, "", dtype=object)
    stage = np.full(n, ACTIVE, dtype=object)
    day = np.full(n, np.nan)
    ended = bought & (ended_members > 0) & (active_members == 0) & (end_day >= last_day)
    defect_limit = limits.defected_silence_multiple * pace
    risk_limit = limits.at_risk_silence_multiple * pace
    silent_gone = bought & ~ended & (silence > defect_limit)
    scored = bought & ~ended & ~silent_gone & (score >= limits.at_risk_threshold)
    silent_risk = bought & ~ended & ~silent_gone & ~scored & (silence > risk_limit)
    for mask, name, to, when in (
            (ended, "membership_ended", DEFECTED, end_day),
            (silent_gone, "silence", DEFECTED, last_day + np.ceil(defect_limit)),
            (scored, "score", AT_RISK, np.full(n, float(today))),
            (silent_risk, "silence", AT_RISK, last_day + np.ceil(risk_limit))):
        stage[mask], rule[mask], day[mask] = to, name, when[mask]
    stage[~bought] = None

    prev = previous.set_index("customer_id").reindex(block["customer_id"])
    before = np.array([v if isinstance(v, str) else None for v in prev["defection_stage"]],
                      dtype=object)
    since_before = np.array([day_of(v) if isinstance(v, date) else np.nan
                             for v in prev["defection_since"]], dtype=float)
    was_defected = before == DEFECTED
    # a defected customer returns only by buying after the defection day
    back = was_defected & bought & (last_day > since_before)
    still_gone = was_defected & ~back
    stage[back], rule[back], day[back] = WON_BACK, "purchase_after_defection", last_day[back]
    stage[still_gone] = DEFECTED
    calm = (before == WON_BACK) & (stage == ACTIVE)  # stays won back while nothing flags it
    stage[calm] = WON_BACK
    changed = bought & (stage != before)
    changed &= ~(pd.isna(before) & (stage == ACTIVE))  # first sight of an active customer
    recovered = changed & (stage == ACTIVE)
    rule[recovered] = np.where(last_day[recovered] > since_before[recovered],
                               "purchase", "below_limits")
    day[recovered] = np.where(last_day[recovered] > since_before[recovered],
                              last_day[recovered], float(today))
    since = np.where(changed, day, since_before)
    since = np.where(np.isfinite(since), since, float(today))
    since = np.minimum(since, float(today))
    stages = pd.DataFrame({
        "customer_id": block["customer_id"].to_numpy(),
        "defection_stage": stage,
        "defection_since": pd.Series([(EPOCH + timedelta(days=int(d))) if s is not None
                                      else None for d, s in zip(since, stage, strict=True)],
                                     dtype=object),
    })
    rows = np.flatnonzero(changed)
    evidence = [json.dumps(_evidence(
        str(rule[i]), silence=silence[i], pace=pace[i], own=repeat[i], typical=typical,
        limits=limits, score=score[i], last_day=last_day[i], end_day=end_day[i],
        kind=kinds[i], since_before=since_before[i])) for i in rows]
    changes = pd.DataFrame({
        "customer_id": block["customer_id"].to_numpy()[rows],
        "changed_on": pd.Series([EPOCH + timedelta(days=int(min(day[i], today)))
                                 for i in rows], dtype=object),
        "from_stage": before[rows],
        "to_stage": stage[rows],
        "rule": rule[rows],
        "score": np.where(np.isfinite(score[rows]), score[rows], np.nan),
        "evidence": pd.Series(evidence, dtype=object),
    })
    return stages, changes


def _evidence(rule: str, *, silence: float, pace: float, own: bool, typical: float,
              limits: Limits, score: float, last_day: float, end_day: float, kind: Any,
              since_before: float) -> dict[str, Any]:
    base: dict[str, Any] = {"last_purchase_on": _iso(last_day),
                            "silence_days": round(float(silence), 1),
                            "score": None if not np.isfinite(score) else round(float(score), 4)}
    if rule == "membership_ended":
        base.update({"membership_kind": kind if isinstance(kind, str) else None,
                     "membership_ended_on": _iso(end_day)})
    elif rule == "silence":
        base.update({"pace_days": round(float(pace), 1),
                     "pace_source": "own" if own else (
                         "median of repeat buyers (one-time buyer)" if np.isfinite(typical)
                         else "floor (no repeat buyer)"),
                     "at_risk_multiple": limits.at_risk_silence_multiple,
                     "defected_multiple": limits.defected_silence_multiple})
    elif rule == "score":
        base["threshold"] = limits.at_risk_threshold
    elif rule in ("purchase_after_defection", "purchase"):
        base["previous_since"] = _iso(since_before)
    return base
