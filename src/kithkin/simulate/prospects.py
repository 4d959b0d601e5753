"""Prospects (strangers): leads, bought lists and competitors' customers, without orders.

A share of customers started as prospects: they get a prospect record with status
``converted`` captured before their first order, and ground truth links the two.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from kithkin.simulate import vocab
from kithkin.simulate.arrow_ops import choice_index, null_where, take
from kithkin.simulate.latent import DAY

SOURCE = "crm"
ORIGINS = ("lead", "imported_list", "competitor_customer")
ORIGIN_WEIGHTS = (0.5, 0.3, 0.2)
STATUSES = ("new", "contacted", "qualified", "disqualified")
STATUS_WEIGHTS = (0.4, 0.35, 0.1, 0.15)


def prospect_table(people: dict[str, pa.Array], *, external_id: pa.Array, origin: pa.Array,
                   competitor: pa.Array, status: pa.Array, captured_at: np.ndarray) -> pa.Table:
    n = len(external_id)
    return pa.table({
        "source": pa.array([SOURCE] * n, pa.string()), "external_id": external_id,
        **{k: people[k] for k in ("first_name", "last_name", "company", "email", "phone")},
        "origin": origin, "competitor": competitor, "status": status,
        "captured_at": pa.array(captured_at, pa.timestamp("s", tz="UTC")),
    })


def strangers(rng: np.random.Generator, people: dict[str, pa.Array], external_id: pa.Array,
              *, start: int, end: int) -> tuple[pa.Table, np.ndarray]:
    """Prospects that never bought; bought lists often lack emails, leads lack phones."""
    n = len(external_id)
    origin = choice_index(rng, n, ORIGIN_WEIGHTS)
    people = dict(people)
    people["email"] = null_where(people["email"], (origin == 1) & (rng.random(n) < 0.5))
    people["phone"] = null_where(people["phone"], (origin == 0) & (rng.random(n) < 0.5))
    is_competitor = origin == 2
    competitor = take(vocab.COMPETITORS, rng.integers(0, len(vocab.COMPETITORS), n),
                      mask=~is_competitor)
    captured_at = rng.integers(start, end, n)
    table = prospect_table(people, external_id=external_id, origin=take(ORIGINS, origin),
                           competitor=competitor,
                           status=take(STATUSES, choice_index(rng, n, STATUS_WEIGHTS)),
                           captured_at=captured_at)
    return table, captured_at


def converted(rng: np.random.Generator, people: dict[str, pa.Array], external_id: pa.Array,
              acquired: np.ndarray) -> tuple[pa.Table, np.ndarray]:
    """Prospect records of persons who later became customers."""
    n = len(external_id)
    captured_at = acquired - rng.integers(3 * DAY, 90 * DAY, n)
    table = prospect_table(people, external_id=external_id,
                           origin=pa.array(["lead"] * n, pa.string()),
                           competitor=pa.nulls(n, pa.string()),
                           status=pa.array(["converted"] * n, pa.string()),
                           captured_at=captured_at)
    return table, captured_at
