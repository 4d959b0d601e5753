"""``simulate_business``: a synthetic business as import-ready files plus hidden truth.

Persons are generated in fixed-size chunks, each with its own random stream derived
from the seed (``SeedSequence(seed, spawn_key=(1, chunk))``; the catalogue uses key
``(0,)``), and appended to open writers; so output is deterministic for a seed and
memory is bounded by one chunk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kithkin.simulate import (
    duplicates,
    interactions,
    memberships,
    orders,
    people,
    prospects,
    truth,
    vocab,
)
from kithkin.simulate.arrow_ops import choice_index, prefixed_ids, take
from kithkin.simulate.catalogue import Catalogue, build_catalogue
from kithkin.simulate.columns import IMPORT_SCHEMAS, TIMESTAMP, TRUTH_SCHEMAS
from kithkin.simulate.latent import DAY, draw_latent
from kithkin.simulate.schemas import FileFormat, SimulationParams, SimulationSummary
from kithkin.simulate.writer import TableSink

CHUNK_PERSONS = 50_000
SHOP, CRM = orders.SOURCE, duplicates.SOURCE
CONSENTS = ("granted", "denied", "opted_out", "")
CONSENT_WEIGHTS = (0.55, 0.15, 0.1, 0.2)  # the last: never asked (empty)
# Odd and not a multiple of 5, so pid -> (pid * M + C) mod 1e9 is a bijection: crm ids
# are unique yet reveal nothing about the shop id of the same person.
_CRM_ID_MULTIPLIER, _CRM_ID_OFFSET = 7_919_393, 123_456_789
# Share of a duplicated person's tickets logged against the crm record.
DUPLICATE_TICKET_SHARE = 0.5
_TICKET_KINDS = ("inquiry", "service_request", "complaint")
ProgressCallback = Callable[[int, int], None]


@dataclass
class _Counters:
    """Running numbers that keep ids unique across chunks."""

    orders: int = 0
    interactions: int = 0
    memberships: int = 0
    prospects: int = 0
    emails: people.EmailBook = field(default_factory=people.EmailBook)


@dataclass(frozen=True)
class HistoryWindow:
    """Start and (exclusive) end of the simulated history, in epoch seconds (UTC)."""

    start: int
    end: int


def history_window(params: SimulationParams) -> HistoryWindow:
    end = int(datetime(params.end.year, params.end.month, params.end.day,
                       tzinfo=UTC).timestamp())
    return HistoryWindow(start=end - round(params.years * 365.25 * DAY), end=end)


def _strings(value: str, n: int) -> pa.Array:
    return pa.array([value] * n, pa.string())


def _consents(rng: np.random.Generator, n: int) -> dict[str, pa.Array]:
    out = {}
    for channel in ("email", "sms", "phone", "post"):
        index = choice_index(rng, n, CONSENT_WEIGHTS)
        out[f"consent_{channel}"] = take(CONSENTS, index, mask=index == len(CONSENTS) - 1)
    return out


def _customers(rng: np.random.Generator, source: str, external_id: pa.Array,
               person: dict[str, pa.Array], acquisition_source: pa.Array,
               acquired_at: np.ndarray) -> pa.Table:
    n = len(external_id)
    return pa.table({
        "source": _strings(source, n), "external_id": external_id, **person,
        "acquisition_source": acquisition_source, "acquired_at": pa.array(acquired_at, TIMESTAMP),
        **_consents(rng, n),
    })


def _crm_ids(person_id: np.ndarray) -> pa.Array:
    scrambled = (person_id * _CRM_ID_MULTIPLIER + _CRM_ID_OFFSET) % 1_000_000_000
    return prefixed_ids("K", scrambled, 9)


def _interaction_owners(rng: np.random.Generator, batch: interactions.Batch,
                        shop_ids: pa.Array, crm_index: np.ndarray, crm_ids: pa.Array
                        ) -> tuple[pa.Array, pa.Array]:
    """Customer id and source per interaction: some tickets of duplicated persons go to crm."""
    who = np.concatenate(batch.customer)
    kind = pa.concat_arrays(batch.columns["kind"])
    to_crm = (
        (crm_index[who] >= 0)
        & pc.is_in(kind, value_set=pa.array(_TICKET_KINDS)).to_numpy(zero_copy_only=False)
        & (rng.random(len(who)) < DUPLICATE_TICKET_SHARE)
    )
    mask = pa.array(to_crm)
    ids = pc.if_else(mask, crm_ids.take(pa.array(np.maximum(crm_index[who], 0))),
                     shop_ids.take(pa.array(who)))
    sources = pc.if_else(mask, CRM, SHOP)
    return ids, sources


def _write_chunk(sink: TableSink, truth_sink: TableSink, rng: np.random.Generator,
                 first_pid: int, n: int, params: SimulationParams, window: HistoryWindow,
                 counters: _Counters, catalogue: Catalogue) -> None:
    pid = first_pid + np.arange(n)
    latent = draw_latent(rng, n, params, window.start, window.end)
    person = people.draw_people(rng, n, counters.emails, hard=params.hard)
    is_business = person["company"].is_valid().to_numpy(zero_copy_only=False)
    shop_ids = prefixed_ids("C", pid, 8)
    was_prospect = rng.random(n) < params.conversion_rate
    acquisition = take(vocab.ACQUISITION_SOURCES,
                       choice_index(rng, n, vocab.ACQUISITION_WEIGHTS))
    acquisition = pc.if_else(pa.array(was_prospect), "lead", acquisition)
    sink.write("customers", _customers(rng, SHOP, shop_ids, person, acquisition,
                                       latent.acquired))

    dup = np.flatnonzero(rng.random(n) < params.duplicates_rate)
    crm_ids = _crm_ids(pid[dup])
    crm_person = duplicates.perturb(rng, {k: v.take(pa.array(dup)) for k, v in person.items()},
                                    hard=params.hard)
    crm_created = np.minimum(latent.acquired[dup] + rng.integers(0, 60 * DAY, len(dup)),
                             window.end - 1)
    sink.write("customers", _customers(rng, CRM, crm_ids, crm_person,
                                       pa.nulls(len(dup), pa.string()), crm_created))
    crm_index = np.full(n, -1)
    crm_index[dup] = np.arange(len(dup))

    bought = orders.draw_orders(rng, latent, shop_ids, catalogue, params,
                                first_number=counters.orders, end=window.end)
    counters.orders += len(bought.customer)
    sink.write("transactions", bought.transactions)
    sink.write("lines", bought.lines)

    batch = interactions.draw_interactions(rng, latent, is_business,
                                           exit_interview_rate=params.exit_interview_rate,
                                           end=window.end)
    owner_ids, owner_sources = _interaction_owners(rng, batch, shop_ids, crm_index, crm_ids)
    table = interactions.batch_table(batch, first_number=counters.interactions,
                                     customer_external_id=owner_ids,
                                     customer_source=owner_sources,
                                     prospect_external_id=pa.nulls(len(owner_ids), pa.string()))
    counters.interactions += table.num_rows
    sink.write("interactions", table)
    truth.write_exit_interviews(truth_sink, table, batch, latent)

    members, membership_table = memberships.draw_memberships(
        rng, latent, is_business, params.p / latent.nu, params, end=window.end)
    m = membership_table.num_rows
    sink.write("memberships", membership_table
               .append_column("external_id",
                              prefixed_ids("M", counters.memberships + np.arange(m), 9))
               .append_column("customer_external_id", shop_ids.take(pa.array(members)))
               .append_column("customer_source", _strings(SHOP, m)))
    counters.memberships += m

    _write_prospects(sink, truth_sink, rng, params, window, counters,
                     person, shop_ids, latent.acquired, was_prospect)
    truth.write_customers(truth_sink, latent, pid, shop_ids, dup, crm_ids, params)


def _write_prospects(sink: TableSink, truth_sink: TableSink, rng: np.random.Generator,
                     params: SimulationParams, window: HistoryWindow, counters: _Counters,
                     person: dict[str, pa.Array], shop_ids: pa.Array, acquired: np.ndarray,
                     was_prospect: np.ndarray) -> None:
    """Strangers, plus the earlier prospect records of converted customers, and their touches."""
    n_strangers = round(len(shop_ids) * params.prospects_rate)
    converts = np.flatnonzero(was_prospect)
    n = n_strangers + len(converts)
    ids = prefixed_ids("P", counters.prospects + np.arange(n), 9)
    counters.prospects += n
    stranger_people = people.draw_people(rng, n_strangers, counters.emails,
                                         hard=params.hard)
    stranger_table, stranger_captured = prospects.strangers(
        rng, stranger_people, ids.slice(0, n_strangers), start=window.start, end=window.end)
    convert_ids = ids.slice(n_strangers)
    convert_table, convert_captured = prospects.converted(
        rng, {k: v.take(pa.array(converts)) for k, v in person.items()}, convert_ids,
        acquired[converts])
    sink.write("prospects", stranger_table)
    sink.write("prospects", convert_table)
    truth_sink.write("prospect_conversions", pa.table({
        "prospect_source": _strings(prospects.SOURCE, len(converts)),
        "prospect_external_id": convert_ids,
        "customer_source": _strings(SHOP, len(converts)),
        "customer_external_id": shop_ids.take(pa.array(converts)),
    }))
    captured = np.concatenate([stranger_captured, convert_captured])
    until = np.concatenate([np.full(n_strangers, window.end), acquired[converts]])
    batch = interactions.prospect_touches(rng, captured, (until - captured) / DAY)
    who = np.concatenate(batch.customer)
    table = interactions.batch_table(
        batch, first_number=counters.interactions,
        customer_external_id=pa.nulls(len(who), pa.string()),
        customer_source=pa.nulls(len(who), pa.string()),
        prospect_external_id=ids.take(pa.array(who)))
    counters.interactions += table.num_rows
    sink.write("interactions", table)


def simulate_business(
    *, customers: int, years: float, seed: int, out_dir: Path, fmt: FileFormat = "csv",
    duplicates_rate: float = 0.05, hard: bool = False,
    progress: ProgressCallback | None = None, **options: object,
) -> SimulationSummary:
    """Write a synthetic business to ``out_dir`` and its ground truth to ``out_dir/truth``.

    ``options`` are further :class:`SimulationParams` fields (latent parameters, rates,
    end date). ``progress(done, total)`` is called after each chunk of persons.
    """
    params = SimulationParams.model_validate({
        "customers": customers, "years": years, "seed": seed, "fmt": fmt,
        "duplicates_rate": duplicates_rate, "hard": hard, **options,
    })
    started = time.perf_counter()
    window = history_window(params)
    out_dir = Path(out_dir)
    catalogue = build_catalogue(
        np.random.default_rng(np.random.SeedSequence(params.seed, spawn_key=(0,))))
    counters = _Counters()
    with TableSink(out_dir, IMPORT_SCHEMAS, params.fmt) as sink, \
            TableSink(out_dir / "truth", TRUTH_SCHEMAS, params.fmt) as truth_sink:
        sink.write("products", catalogue.table)
        for chunk, first in enumerate(range(0, params.customers, CHUNK_PERSONS)):
            n = min(CHUNK_PERSONS, params.customers - first)
            rng = np.random.default_rng(
                np.random.SeedSequence(params.seed, spawn_key=(1, chunk)))
            _write_chunk(sink, truth_sink, rng, first, n, params, window, counters, catalogue)
            if progress is not None:
                progress(first + n, params.customers)
    files = {**sink.paths, **{f"truth/{k}": v for k, v in truth_sink.paths.items()}}
    rows = {**sink.rows, **{f"truth/{k}": v for k, v in truth_sink.rows.items()}}
    summary = SimulationSummary(out_dir=out_dir, params=params, files=files, rows=rows,
                                seconds=time.perf_counter() - started)
    truth.write_description(out_dir / "truth", summary, start=window.start, end=window.end)
    return summary
