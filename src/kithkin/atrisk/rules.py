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

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kithkin.analytics.periods import EPOCH, day_of

ACTIVE, AT_RISK, DEFECTED, WON_BACK = "active", "at_risk", "defected", "won_back"
STAGES = (ACTIVE, AT_RISK, DEFECTED, WON_BACK)
STAGE_LABELS = {ACTIVE: "active", AT_RISK: "at risk", DEFECTED: "defected",
                WON_BACK: "won back"}


# the block's columns assign() reads: the purchase summary and score, and the signals
PURCHASE_INPUTS = ("customer_id", "frequency", "recency", "T", "at_risk")
SIGNAL_INPUTS = ("active_memberships", "ended_memberships", "last_membership_end_day",
                 "last_ended_kind")


@dataclass(frozen=True)
class Limits:
    at_risk_threshold: float = 0.8
    at_risk_silence_multiple: float = 2.0
    defected_silence_multiple: float = 4.0
    min_pace_days: float = 30.0


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
    before = prev["defection_stage"].to_numpy(dtype=object)
    before[pd.isna(before)] = None
    since_before = _day_numbers(prev["defection_since"])
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
    since = np.where(pd.isna(stage), np.nan, np.minimum(since, float(today)))
    stages = pd.DataFrame({
        "customer_id": block["customer_id"].to_numpy(),
        "defection_stage": stage,
        "defection_since": _dates(since),
    })
    rows = np.flatnonzero(changed)
    changes = pd.DataFrame({
        "customer_id": block["customer_id"].to_numpy()[rows],
        "changed_on": _dates(np.minimum(day[rows], float(today))),
        "from_stage": before[rows],
        "to_stage": stage[rows],
        "rule": rule[rows],
        "score": np.where(np.isfinite(score[rows]), score[rows], np.nan),
        "evidence": _evidence(rule[rows], silence=silence[rows], pace=pace[rows],
                              own=repeat[rows], typical=typical, limits=limits,
                              score=score[rows], last_day=last_day[rows],
                              end_day=end_day[rows], kind=kinds[rows],
                              since_before=since_before[rows]),
    })
    return stages, changes


def _day_numbers(values: pd.Series) -> np.ndarray:
    """Day numbers (since 1970-01-01, as :func:`day_of`) of dates; NaN where missing."""
    try:  # dates or None (the stored stages): Arrow's days since the epoch, in C
        days32 = pa.array(values.to_numpy(dtype=object), type=pa.date32(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        pass
    else:
        fast: np.ndarray = days32.cast(pa.int32()).to_numpy(zero_copy_only=False).astype(float)
        return fast
    stamps = pd.to_datetime(values, errors="coerce")
    days = (stamps - pd.Timestamp(EPOCH)).dt.days
    result: np.ndarray = days.to_numpy(dtype=float, na_value=np.nan)
    return result


# Day numbers beyond this (about year 2243) are "never": a silence multiple of a
# near-zero purchase rate; pandas cannot represent them and overflows.
FAR_DAYS = 100_000


def _date32(days: np.ndarray) -> pa.Array:
    """Arrow dates of day numbers (null where NaN or beyond :data:`FAR_DAYS`)."""
    known = np.isfinite(days) & (np.abs(days) <= FAR_DAYS)
    return pa.array(np.where(known, days, 0).astype(np.int32), mask=~known,
                    type=pa.int32()).cast(pa.date32())


def _dates(days: np.ndarray) -> pd.Series:
    """Python dates of day numbers (None where NaN or beyond representable time), built
    by Arrow in C."""
    return pd.Series(_date32(days).to_pandas(date_as_object=True).to_numpy(), dtype=object)


def _iso_days(days: np.ndarray) -> np.ndarray:
    result: np.ndarray = _date32(days).cast(pa.string()).to_numpy(zero_copy_only=False)
    return result


def _evidence(rule: np.ndarray, *, silence: np.ndarray, pace: np.ndarray, own: np.ndarray,
              typical: float, limits: Limits, score: np.ndarray, last_day: np.ndarray,
              end_day: np.ndarray, kind: np.ndarray, since_before: np.ndarray) -> pd.Series:
    """One JSON object per change with the figures its rule read, written by pandas'
    C encoder one rule at a time (a first refresh writes one per departed customer)."""
    base = {
        "last_purchase_on": _iso_days(last_day),
        "silence_days": np.round(silence, 1),
        "score": np.where(np.isfinite(score), np.round(score, 4), np.nan),
    }
    texts: list[pa.Array] = []
    rows: list[np.ndarray] = []
    codes, names = pd.factorize(rule)
    for code, name in enumerate(names):
        where = np.flatnonzero(codes == code)
        part = pd.DataFrame({key: values[where] for key, values in base.items()})
        if name == "membership_ended":
            part["membership_kind"] = kind[where]
            part["membership_ended_on"] = _iso_days(end_day[where])
        elif name == "silence":
            part["pace_days"] = np.round(pace[where], 1)
            sources = np.array(["own", "median of repeat buyers (one-time buyer)"
                                if np.isfinite(typical) else "floor (no repeat buyer)"],
                               dtype=object)
            part["pace_source"] = sources[(~own[where]).astype(np.intp)]
            part["at_risk_multiple"] = limits.at_risk_silence_multiple
            part["defected_multiple"] = limits.defected_silence_multiple
        elif name == "score":
            part["threshold"] = limits.at_risk_threshold
        elif name in ("purchase_after_defection", "purchase"):
            part["previous_since"] = _iso_days(since_before[where])
        texts.append(_json_lines(part))
        rows.append(where)
    if not texts:
        return pd.Series([], dtype=object)
    order = np.argsort(np.concatenate(rows), kind="stable")
    evidence = pa.concat_arrays(texts).take(pa.array(order))
    return pd.Series(pd.arrays.ArrowExtensionArray(evidence))


def _encoded(values: pd.Series) -> pa.Array:
    """Each value of ``values`` as pandas' JSON encoder writes it in a record
    (``to_json(double_precision=6)``): a numeric column encoded whole and split at its
    commas; any other column one distinct value at a time (a text may hold a comma)."""
    if values.empty:
        return pa.array([], type=pa.string())
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype):
        text = values.to_json(orient="values", double_precision=6)
        return pc.split_pattern(pa.array([text[1:-1]]), ",").flatten()
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    indices = pa.array(codes, mask=codes < 0, type=pa.int64())
    return pc.fill_null(_json_texts(np.asarray(uniques, dtype=object)).take(indices), "null")


_PLAIN = r"^[A-Za-z0-9 _.:,;()+=\-]*$"  # texts the encoder writes as they are, quoted


def _json_texts(values: np.ndarray) -> pa.Array:
    """pandas' JSON text of each distinct value: a plain text (dates, names) quoted by
    Arrow, anything else (escapes, non-text values) by the encoder itself."""
    if values.size == 0:
        return pa.array([""], type=pa.string())
    texts = [v if isinstance(v, str) else None for v in values]
    words = pa.array(texts, type=pa.string())
    plain = pc.fill_null(pc.match_substring_regex(words, _PLAIN), False).to_numpy(
        zero_copy_only=False)
    quoted = pc.binary_join_element_wise(pa.scalar('"'), words, pa.scalar('"'), "")
    out = quoted.to_numpy(zero_copy_only=False).astype(object)
    for i in np.flatnonzero(~plain):
        out[i] = pd.Series([values[i]], dtype=object).to_json(orient="values")[1:-1]
    return pa.array(out, type=pa.string())


def _json_lines(part: pd.DataFrame) -> pa.Array:
    """One JSON object per row of ``part`` (keys: its columns), the text pandas'
    ``to_json(orient="records", lines=True, double_precision=6)`` gives each row, put
    together by Arrow column by column: the encoder's one-text-for-all-rows and its
    split into lines cost more than the rest of the defection step."""
    pieces: list[pa.Array | pa.Scalar] = []
    for i, name in enumerate(part.columns):
        key = pd.Series([str(name)], dtype=object).to_json(orient="values")[1:-1]
        pieces.append(pa.scalar(("{" if i == 0 else ",") + key + ":"))
        pieces.append(_encoded(part[name]))
    pieces.append(pa.scalar("}"))
    joined: pa.Array = pc.binary_join_element_wise(*pieces, "")
    return joined
