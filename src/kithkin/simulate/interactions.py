"""Interactions: every touch in either direction, driven by latent satisfaction.

Rates are per year of the active period. Bad service experiences (more likely at low
satisfaction) trigger complaints; survey scores and reviews track satisfaction with
noise; satisfaction sags and complaints cluster in the months before a defection, and
some defectors give an exit interview whose wording reflects their hidden defector type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import product

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kithkin.simulate import vocab
from kithkin.simulate.arrow_ops import choice_index, take
from kithkin.simulate.latent import DAY, Latent

SOURCE = "crm"
YEAR_DAYS = 365.25
PRE_DEFECTION_DAYS = 120
EXIT_LABEL_NOISE = 0.1
REVIEW_TEXTS = {
    1: ("Very disappointed.", "Would not buy again.", "Broke quickly."),
    2: ("Not great.", "Below expectations.", "Slow delivery."),
    3: ("It's okay.", "Average quality.", "Does the job."),
    4: ("Good value.", "Happy with it.", "Nice product."),
    5: ("Excellent!", "Love it.", "Great service and product."),
}
COMPLAINT_TAGS = ("delivery", "damaged", "billing", "staff", "quality", "refund")


@dataclass
class Batch:
    """Columns of interactions collected kind by kind; ``customer`` is chunk-local."""

    columns: dict[str, list[pa.Array]] = field(default_factory=dict)
    customer: list[np.ndarray] = field(default_factory=list)
    occurred_at: list[np.ndarray] = field(default_factory=list)
    # Exit interviews' hidden truth: their rows in the batch and the type each text was
    # worded after (the true type is the customer's; they differ for the noisy share).
    exit_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    exit_worded_as: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.customer)

    def add(self, customer: np.ndarray, occurred_at: np.ndarray, **values: pa.Array) -> None:
        n = len(customer)
        self.customer.append(customer)
        self.occurred_at.append(occurred_at)
        for name in ("channel", "direction", "kind", "subject", "text", "score_scale",
                     "status", "tags"):
            self.columns.setdefault(name, []).append(
                values.get(name, pa.nulls(n, pa.string())))
        self.columns.setdefault("score", []).append(values.get("score", pa.nulls(n, pa.float64())))
        self.columns.setdefault("resolved_at", []).append(
            values.get("resolved_at", pa.nulls(n, pa.timestamp("s", tz="UTC"))))


def _const(value: str, n: int) -> pa.Array:
    return pa.array([value] * n, pa.string())


def _pick(rng: np.random.Generator, values: Sequence[str], n: int,
          weights: Sequence[float] | None = None) -> pa.Array:
    index = (rng.integers(0, len(values), n) if weights is None
             else choice_index(rng, n, weights))
    return take(values, index)


def _events(rng: np.random.Generator, per_year: np.ndarray, start: np.ndarray,
            days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson events at the given yearly rates, uniform over [start, start + days)."""
    counts = rng.poisson(np.maximum(per_year, 0) * np.maximum(days, 0) / YEAR_DAYS)
    who = np.repeat(np.arange(len(counts)), counts)
    when = start[who] + (rng.random(len(who)) * days[who] * DAY).astype(np.int64)
    return who, when


def _ts(seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    mask = None if valid is None else ~valid
    return pa.array(seconds, pa.timestamp("s", tz="UTC"), mask=mask)


def _tickets(rng: np.random.Generator, batch: Batch, kind: str, who: np.ndarray,
             when: np.ndarray, *, resolved_share: np.ndarray, hours_scale: np.ndarray,
             end: int, channels: Sequence[str], tags: pa.Array | None = None) -> None:
    """Inbound tickets with a status and, when resolved, a resolution time."""
    n = len(who)
    resolved_at = when + (rng.lognormal(np.log(hours_scale), 0.8) * 3600).astype(np.int64)
    resolved = (rng.random(n) < resolved_share) & (resolved_at < end)
    status = np.where(resolved, np.where(rng.random(n) < 0.5, 1, 0) + 2,
                      rng.integers(0, 2, n))  # open, in_progress, resolved, closed
    batch.add(who, when, channel=_pick(rng, channels, n), direction=_const("inbound", n),
              kind=_const(kind, n), subject=_pick(rng, vocab.SUBJECTS[kind], n),
              status=take(("open", "in_progress", "resolved", "closed"), status),
              resolved_at=_ts(resolved_at, resolved),
              tags=tags if tags is not None else pa.nulls(n, pa.string()))


def _service(rng: np.random.Generator, batch: Batch, latent: Latent, end: int) -> None:
    active = latent.active_days
    sat = latent.satisfaction
    who, when = _events(rng, np.full(len(sat), 0.6), latent.acquired, active)
    _tickets(rng, batch, "inquiry", who, when, resolved_share=np.full(len(who), 0.9),
             hours_scale=np.full(len(who), 6.0), end=end, channels=("email", "chat", "phone"))
    who, when = _events(rng, np.full(len(sat), 0.5), latent.acquired, active)
    bad = rng.random(len(who)) < 1 / (1 + np.exp(1.2 + 1.2 * sat[who]))
    _tickets(rng, batch, "service_request", who, when,
             resolved_share=np.where(bad, 0.6, 0.95), hours_scale=np.where(bad, 96.0, 12.0),
             end=end, channels=("email", "phone", "web", "store"))
    # Complaints: after bad service, spontaneously (more when unhappy), and before leaving.
    follows = bad & (rng.random(len(who)) < 0.6)
    after_bad = when[follows] + rng.integers(DAY, 10 * DAY, follows.sum())
    c_who = [who[follows][after_bad < end]]
    c_when = [after_bad[after_bad < end]]
    spont_who, spont_when = _events(rng, 0.12 * np.exp(-0.9 * sat), latent.acquired, active)
    c_who.append(spont_who)
    c_when.append(spont_when)
    unhappy_leaver = np.isin(latent.defector_type,
                             [vocab.DEFECTOR_TYPES.index(t) for t in ("service", "product")])
    window = np.where(unhappy_leaver, np.minimum(PRE_DEFECTION_DAYS, active), 0.0)
    late_who, late_when = _events(rng, np.full(len(sat), 2.0), latent.defected_at
                                  - (window * DAY).astype(np.int64), window)
    c_who.append(late_who)
    c_when.append(late_when)
    who, when = np.concatenate(c_who), np.concatenate(c_when)
    n = len(who)
    tags = take(COMPLAINT_TAGS, rng.integers(0, len(COMPLAINT_TAGS), n))
    second = take(COMPLAINT_TAGS, rng.integers(0, len(COMPLAINT_TAGS), n))
    two_tags = pa.array(rng.random(n) < 0.3)
    tags = pc.if_else(two_tags, pc.binary_join_element_wise(tags, second, ";"), tags)
    _tickets(rng, batch, "complaint", who, when, resolved_share=np.full(n, 0.7),
             hours_scale=np.full(n, 30.0), end=end, channels=("email", "phone", "social", "web"),
             tags=tags)


def _felt_satisfaction(latent: Latent, who: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Latent satisfaction, lowered in the months before a defection."""
    late = (~latent.alive[who]) & (when > latent.defected_at[who] - PRE_DEFECTION_DAYS * DAY)
    felt: np.ndarray = latent.satisfaction[who] - 1.2 * late
    return felt


def _feedback(rng: np.random.Generator, batch: Batch, latent: Latent) -> None:
    active, sat = latent.active_days, latent.satisfaction
    who, when = _events(rng, np.full(len(sat), 1.0), latent.acquired, active)
    felt = _felt_satisfaction(latent, who, when)
    n = len(who)
    nps = rng.random(n) < 0.5
    score = np.where(nps, np.clip(np.rint(7 + 2.2 * felt + rng.normal(0, 1.3, n)), 0, 10),
                     np.clip(np.rint(3.7 + 0.9 * felt + rng.normal(0, 0.6, n)), 1, 5))
    batch.add(who, when, channel=_pick(rng, ("email", "web", "sms"), n),
              direction=_const("inbound", n), kind=_const("survey_response", n),
              subject=_pick(rng, vocab.SUBJECTS["survey_response"], n),
              score=pa.array(score), score_scale=take(("csat", "nps"), nps.astype(np.int64)))
    who, when = _events(rng, np.full(len(sat), 0.25), latent.acquired, active)
    n = len(who)
    stars = np.clip(np.rint(3.8 + 1.0 * _felt_satisfaction(latent, who, when)
                            + rng.normal(0, 0.7, n)), 1, 5).astype(np.int64)
    texts = [t for k in range(1, 6) for t in REVIEW_TEXTS[k]]
    batch.add(who, when, channel=_pick(rng, ("web", "social"), n),
              direction=_const("inbound", n), kind=_const("review", n),
              subject=_const("Product review", n),
              text=take(texts, (stars - 1) * 3 + rng.integers(0, 3, n)),
              score=pa.array(stars.astype(np.float64)), score_scale=_const("csat", n))
    for kind, per_year, channels in (
        ("referral", 0.12 * np.exp(0.8 * sat), ("web", "email", "in_person")),
        ("idea", 0.05 * np.exp(0.5 * sat), ("web",)),
        ("visit", np.full(len(sat), 2.0), ("web", "store")),
    ):
        who, when = _events(rng, per_year, latent.acquired, active)
        n = len(who)
        batch.add(who, when, channel=_pick(rng, channels, n), direction=_const("inbound", n),
                  kind=_const(kind, n), subject=_pick(rng, vocab.SUBJECTS[kind], n))


def _outbound(rng: np.random.Generator, batch: Batch, latent: Latent,
              is_business: np.ndarray) -> None:
    """Marketing email keeps going after a silent defection: the firm cannot see it."""
    for kind, per_year, channel in (
        ("email", np.full(len(is_business), 4.0), "email"),
        ("call", np.where(is_business, 3.0, 0.3), "phone"),
    ):
        who, when = _events(rng, per_year, latent.acquired, latent.observed_days)
        n = len(who)
        batch.add(who, when, channel=_const(channel, n), direction=_const("outbound", n),
                  kind=_const(kind, n), subject=_pick(rng, vocab.SUBJECTS[kind], n))


def exit_texts(rng: np.random.Generator, defector_type: np.ndarray
               ) -> tuple[pa.Array, np.ndarray]:
    """Free text per defector, worded after its type; a share uses another type's wording.
    Returns the texts and the type (index) each was worded after."""
    n = len(defector_type)
    types = vocab.DEFECTOR_TYPES
    noisy = rng.random(n) < EXIT_LABEL_NOISE
    worded_as = np.where(noisy, rng.integers(0, len(types), n), defector_type)
    expanded = [
        [t.replace("{competitor}", c) for t, c in product(vocab.EXIT_TEMPLATES[kind],
                                                          vocab.COMPETITORS)]
        for kind in types
    ]
    sizes = np.array([len(e) for e in expanded])
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    pick = starts[worded_as] + (rng.random(n) * sizes[worded_as]).astype(np.int64)
    body = take([t for e in expanded for t in e], pick)
    return pc.binary_join_element_wise(
        _pick(rng, vocab.EXIT_FILLERS, n), body, _pick(rng, vocab.EXIT_ENDINGS, n), ""
    ), worded_as


def _exit_interviews(rng: np.random.Generator, batch: Batch, latent: Latent, rate: float,
                     end: int) -> None:
    when = latent.defected_at + rng.integers(7 * DAY, 60 * DAY, len(latent.alive))
    chosen = (~latent.alive) & (rng.random(len(when)) < rate) & (when < end)
    who = np.flatnonzero(chosen)
    n = len(who)
    texts, worded_as = exit_texts(rng, latent.defector_type[who])
    batch.exit_rows = batch.size + np.arange(n)
    batch.exit_worded_as = worded_as
    batch.add(who, when[who], channel=_pick(rng, ("phone", "email"), n),
              direction=_const("outbound", n), kind=_const("exit_interview", n),
              subject=_const("Exit interview", n), text=texts, status=_const("closed", n))


def draw_interactions(rng: np.random.Generator, latent: Latent, is_business: np.ndarray, *,
                      exit_interview_rate: float, end: int) -> Batch:
    batch = Batch()
    _service(rng, batch, latent, end)
    _feedback(rng, batch, latent)
    _outbound(rng, batch, latent, is_business)
    _exit_interviews(rng, batch, latent, exit_interview_rate, end)
    return batch


def prospect_touches(rng: np.random.Generator, start: np.ndarray, days: np.ndarray) -> Batch:
    """Outbound emails and calls to prospects (strangers) between capture and the end."""
    batch = Batch()
    for kind, per_year, channel in (("email", 3.0, "email"), ("call", 0.5, "phone")):
        who, when = _events(rng, np.full(len(start), per_year), start, days)
        n = len(who)
        batch.add(who, when, channel=_const(channel, n), direction=_const("outbound", n),
                  kind=_const(kind, n), subject=_pick(rng, vocab.SUBJECTS[kind], n))
    return batch


def batch_table(batch: Batch, *, first_number: int, customer_external_id: pa.Array,
                customer_source: pa.Array, prospect_external_id: pa.Array) -> pa.Table:
    """The interactions table; the id arrays are already aligned with the batch's rows."""
    n = len(customer_external_id)
    columns = {name: pa.concat_arrays(parts) for name, parts in batch.columns.items()}
    external_id = pc.binary_join_element_wise(
        "I", pc.utf8_lpad(pc.cast(pa.array(first_number + np.arange(n)), pa.string()),
                          width=10, padding="0"), "")
    return pa.table({
        "source": _const(SOURCE, n), "external_id": external_id,
        "customer_external_id": customer_external_id, "customer_source": customer_source,
        "prospect_external_id": prospect_external_id,
        "occurred_at": _ts(np.concatenate(batch.occurred_at)), **columns,
    })
