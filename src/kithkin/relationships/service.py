"""Relationship engine services: refresh (assign, record history, score, store),
explain one customer, and segment levels with user overrides."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
from sqlalchemy import Integer, case, delete, literal, select
from sqlalchemy import insert as sql_insert
from sqlalchemy.orm import Session

from kithkin.analytics.relationship_features import RelationshipEvents
from kithkin.config import Settings
from kithkin.database import bulk
from kithkin.errors import NotFoundError, ValidationError
from kithkin.relationships import inputs, reports
from kithkin.relationships.assignment import evidence_specs, left_stage_evidence
from kithkin.relationships.bonds import BOND_INPUTS
from kithkin.relationships.definitions import StageModel
from kithkin.relationships.engine import (
    PROFILE_INPUTS,
    EngineResult,
    MetricsInput,
    as_frame,
    compute,
)
from kithkin.relationships.evidence import grouped_records_json, read_values, with_member
from kithkin.relationships.health import CHARACTERISTICS, HEALTH_INPUTS
from kithkin.relationships.levels import Level
from kithkin.relationships.models import (
    CustomerStage,
    RelationshipProfile,
    RelationshipRun,
    SegmentLevel,
    StageChange,
    StageCount,
)
from kithkin.relationships.rules import RuleError, compile_rule
from kithkin.relationships.schemas import (
    BondInventoryRead,
    CustomerExplanation,
    CustomerStageRead,
    DataEvidence,
    HealthScorecard,
    ModelRefreshSummary,
    RelationshipRefreshReport,
    StageChangeRead,
)
from kithkin.relationships.workspace import active_models, available_models, load_config

GONE_CHUNK = 5_000  # ids per look-up of deleted stage rows (below SQLite's variable limit)
STAGES, PROFILES, CHANGES, COUNTS = (bulk.table_of(CustomerStage),
                                     bulk.table_of(RelationshipProfile),
                                     bulk.table_of(StageChange), bulk.table_of(StageCount))


def refresh(*, session: Session, settings: Settings, as_of: date,
            metrics: MetricsInput | None = None,
            category_spend: pd.DataFrame | None = None,
            derive_inputs: bool = True,
            events: RelationshipEvents | None = None,
            ready: Callable[[], object] | None = None) -> RelationshipRefreshReport:
    """Assign stages in every active model, record the changes, compute health, bonds,
    tiers and segment levels, and store them as of ``as_of``.

    ``metrics`` defaults to the latest stored metrics block on or before ``as_of``.
    With ``derive_inputs`` the relationship inputs the metrics contract lacks are added:
    customer attribute inputs and event aggregates (community interactions, bundles,
    category spend) from ``events`` (``kithkin refresh`` computes them on its analytics
    engine, from the snapshot it computed the metrics from) or, without it, computed on
    the analytics engine now; columns already present in ``metrics`` win. The stage
    models and configuration are those of the workspace of ``settings``.

    ``ready`` is called before the first write: ``kithkin refresh`` lands the metrics
    block meanwhile (SQLite has one writer), and everything up to then is computed
    while it lands; what ``ready`` raises ends the refresh before anything is written.
    """
    latest = reports.latest_run_as_of(session=session)
    if latest is not None and as_of < latest:
        raise ValidationError(f"as-of {as_of} is before the latest relationship refresh "
                              f"({latest}); history only moves forward")
    started = time.perf_counter()
    frame = as_frame(inputs.load_metrics(session=session, as_of=as_of)
                     if metrics is None else metrics)
    if derive_inputs:
        if events is None:
            events = inputs.event_inputs(session=session, settings=settings, as_of=as_of)
        frame = inputs.enrich(frame, events.per_customer)
        if category_spend is None:
            category_spend = events.category_spend
    load_seconds = time.perf_counter() - started
    config = load_config(home=settings.home, default_margin=settings.default_margin)
    active = active_models(home=settings.home, config=config)
    # The engine touches no store: it runs in a worker thread while this one reads what
    # the previous refresh stored, then works out the stage rows as soon as the engine
    # has assigned them (while it computes the profiles), before waiting for ``ready``;
    # it then writes them (SQLite runs the writes without holding the GIL) while the
    # worker stages the profiles (in a child process). A preset keeps the name of the
    # model it stands in for.
    assigned: Future[tuple[list[StageModel], dict[str, pd.DataFrame]]] = Future()
    stage_writes = bulk.Plan(session.connection())
    profile_writes = bulk.Plan(session.connection())

    def engine_then_stage_profiles() -> EngineResult:
        result = compute(frame, models=active, config=config, category_spend=category_spend,
                         stage_evidence=False,
                         on_stages=lambda models, stages: assigned.set_result(
                             (models, stages)))
        _store_profile(profile_writes, result.profile, as_of)
        profile_writes.stage()
        return result

    with ThreadPoolExecutor(max_workers=1) as pool:
        computing = pool.submit(engine_then_stage_profiles)
        try:
            reading = time.perf_counter()
            previous = _previous(session, [model.name for model in active])
            prospects = inputs.open_prospects(session=session)
            reading = time.perf_counter() - reading
            either: list[Future[Any]] = [assigned, computing]
            wait(either, return_when=FIRST_COMPLETED)
            if not assigned.done():
                computing.result()  # the engine's error
            models, stages = assigned.result(timeout=0)  # presets swapped in
            # the stage rows are worked out and staged before the wait (reads only)
            clock = time.perf_counter()
            planned = [_store_stages(session, stage_writes, model, stages[model.name],
                                     previous[model.name], frame, as_of,
                                     prospects=prospects if model.includes_prospects else 0)
                       for model in models]
            stage_writes.stage()
            waited = time.perf_counter()
            staging = waited - clock
            if ready is not None:
                ready()  # the engine goes on computing while this thread waits
            clock = time.perf_counter()
            waited = clock - waited
            for plan in planned:
                plan.write(session)
            # a first refresh writes every customer's stage in every model: the look-up
            # index is built once afterwards
            first = all(table.rows.num_rows == 0 for table in previous.values())
            with bulk.deferred_indexes(session.connection(), STAGES) if first \
                    else nullcontext():
                stage_writes.apply()
            staging += time.perf_counter() - clock
            summaries = [plan.summary for plan in planned]
            result = computing.result()
            clock = time.perf_counter()
            profile_writes.apply()
        except BaseException:
            wait([computing])  # it may yet start staging the profiles
            stage_writes.discard()
            profile_writes.discard()
            raise
    _store_levels(session, result.segment_levels, as_of)
    moved_down = sum(s.moved_down for s in summaries)
    # the previous rows were read and the stage rows written while the engine ran
    timings = {"load": round(load_seconds, 4), **result.timings,
               "read_previous": round(reading, 4), "waited": round(waited, 4),
               "stage_rows": round(staging, 4),
               "store": round(time.perf_counter() - clock, 4)}
    evidence = DataEvidence(signals=result.signals.as_dict(), presets=result.presets,
                            default_margin=config.default_margin,
                            assumed_margin=round(result.assumed_margin, 4),
                            assumed_from=result.assumed_from,
                            summary=result.signals.describe())
    session.add(RelationshipRun(
        as_of=as_of, customers=len(frame),
        changes=sum(s.new + s.moved_up + s.moved_down for s in summaries),
        moved_down=moved_down, models={s.model: s.distribution for s in summaries},
        timings=timings, evidence=evidence.model_dump()))
    session.flush()
    return RelationshipRefreshReport(
        as_of=as_of, customers=len(frame), models=summaries,
        value_tiers=_counts(result.profile["value_tier"]),
        needs_segments=_counts(result.profile["needs_segment"].dropna()),
        segments=len(result.segment_levels), timings=timings, evidence=evidence)
def _counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in values.value_counts().sort_index().items()}


@dataclass(frozen=True)
class Previous:
    """What the previous refresh stored for one model: its stage rows (prev_id,
    customer_id, prev_code, prev_rank: int64 columns, in no particular order), each
    stage as a code into ``names``."""

    rows: pa.Table
    names: list[str]


def _previous(session: Session, models: list[str]) -> dict[str, Previous]:
    """Each model's stored stage rows as integers (not the names, nor the evidence),
    read before this refresh writes (:func:`kithkin.database.bulk.select_integers`).

    A stage is read as its position among the stages the model's refreshes counted
    (``stage_count``, a few rows), which covers every stored row; a stage name outside
    them (a store edited by hand) is read by name for those rows alone."""
    conn = session.connection()
    found = {}
    for name in models:
        names = sorted(session.execute(select(StageCount.stage).distinct().where(
            StageCount.model == name)).scalars())
        code = case({stage: n for n, stage in enumerate(names)}, value=STAGES.c.stage,
                    else_=-1) if names else literal(-1, Integer())
        rows = bulk.select_integers(conn, select(
            STAGES.c.id.label("prev_id"), STAGES.c.customer_id, code.label("prev_code"),
            STAGES.c.rank.label("prev_rank")).where(STAGES.c.model == name))
        codes = rows.column("prev_code").to_numpy()
        if (codes < 0).any():
            others: dict[int, str] = dict(session.execute(select(STAGES.c.id, STAGES.c.stage).where(
                STAGES.c.model == name, STAGES.c.stage.not_in(names))).tuples().all())
            added = sorted(set(others.values()))
            coded = {row_id: len(names) + added.index(stage)
                     for row_id, stage in others.items()}
            ids = rows.column("prev_id").to_numpy()
            codes = np.array([coded[int(i)] if c < 0 else c for i, c in zip(
                ids, codes, strict=True)], dtype=np.int64)
            rows = rows.set_column(2, "prev_code", pa.array(codes))
            names = [*names, *added]
        found[name] = Previous(rows, names)
    return found


def _positions(keys: npt.NDArray[np.int64], stored: pa.ChunkedArray | pa.Array
               ) -> npt.NDArray[np.intp]:
    """Where each of ``keys`` is in ``stored`` (unique ids), -1 where it is not."""
    return np.asarray(pd.Index(np.asarray(stored, dtype=np.int64)).get_indexer(keys),
                      dtype=np.intp)


def _stale_rules(session: Session, model: StageModel, previous: pa.Table,
                 codes: npt.NDArray[np.intp]) -> set[str]:
    """Stages whose stored rule text is not the model's any more (the model was edited).

    Every row of a stage holds the same rule text (a refresh rewrites all of them when it
    changes), so one row per stage is read. ``codes`` index ``names``, the stored stages."""
    if previous.num_rows == 0:
        return set()
    current = {spec["stage"]: spec["rule"] for spec, _ in evidence_specs(model)}
    _, first = np.unique(codes, return_index=True)
    stored_ids = previous.column("prev_id").to_numpy()
    ids = [int(stored_ids[i]) for i in first]
    stale = set()
    for stage, evidence in session.execute(select(
            CustomerStage.stage, CustomerStage.evidence).where(CustomerStage.id.in_(ids))):
        if stage in current and json.loads(evidence).get("rule") != current[stage]:
            stale.add(stage)
    return stale


def _store_stages(session: Session, writes: bulk.Plan, model: StageModel,
                  assigned: pd.DataFrame, stored: Previous, frame: pd.DataFrame,
                  as_of: date, *, prospects: int) -> StagePlan:
    """Work out the moves (with evidence) and the model's current stage rows, and queue
    their writes on ``writes``; nothing is written here (reads only), so this runs
    before the refresh may write (see :func:`refresh`'s ``ready``); the returned plan
    makes the other writes (:meth:`StagePlan.write`) before ``writes`` is applied.

    A customer assessed for the first time gets a current row that records the first
    assignment (no history row: the history holds real moves only); a customer who
    changed stage gets a move in the history and their row updated in place (by id);
    a customer no longer in the metrics loses their row (its first assignment goes to
    the history, see :func:`_keep_first_assignments`). An untouched row's ``as_of`` is
    the refresh that last changed it, and its evidence names the rule that matched: the
    values shown with it are the current ones, from the relationship profile (see
    :func:`explain`). ``assigned`` and ``frame`` are row-aligned (one row per customer,
    same order); ``prospects`` (open prospects) are added to the lowest stage's count.
    Stages are compared by their position in the model (names are unique in a model),
    a stored stage the model no longer has by its name."""
    customers = assigned["customer_id"].to_numpy(dtype=np.int64)
    ranks = assigned["rank"].to_numpy().astype(np.int64)
    stored_names, previous = stored.names, stored.rows
    at = _positions(customers, previous.column("customer_id"))
    is_new = at < 0
    # the stored stage of each customer as an index into `stored_names`
    stored_codes = np.asarray(previous.column("prev_code").to_numpy(), dtype=np.intp)
    position = {name: n for n, name in enumerate(model.stage_names)}
    # stored stage -> its position in the model now (-1: gone from the model)
    stored_position = np.array([position.get(name, -1) for name in stored_names] or [-1],
                               dtype=np.int64)
    prev_codes = np.where(is_new, 0, stored_codes[np.where(is_new, 0, at)]
                          if len(stored_codes) else 0)
    prev_position = np.where(is_new, -2, stored_position[prev_codes])
    moved = ~is_new & (prev_position != ranks)
    stored_rank = np.asarray(previous.column("prev_rank").to_numpy(), dtype=np.int64)
    moved_rows = np.flatnonzero(moved)
    prev_rank = stored_rank[at[moved_rows]] if len(moved_rows) else np.zeros(0, np.int64)
    direction = np.where(ranks[moved_rows] > prev_rank, "up", "down")
    stale = _stale_rules(session, model, previous, stored_codes)
    stale_positions = [position[name] for name in stale if name in position]
    restated = ~is_new & ~moved & np.isin(ranks, stale_positions)
    specs = evidence_specs(model)
    move_evidence = grouped_records_json(frame.iloc[moved_rows], ranks[moved_rows], specs)
    # A move also says why the customer no longer meets the stage it left (when that
    # stage still exists in the model: a user may have edited the model in between).
    left_position = prev_position[moved_rows]
    left = left_position >= 0
    if left.any():
        left_json = left_stage_evidence(model, frame, moved_rows[left], left_position[left])
        move_evidence[left] = with_member(move_evidence[left], "left", left_json)
    names = np.array(model.stage_names, dtype=object)
    from_stage = np.array(stored_names, dtype=object)[prev_codes[moved_rows]] \
        if len(moved_rows) else np.zeros(0, dtype=object)
    writes.append(CHANGES, pd.DataFrame({
        "customer_id": customers[moved_rows], "model": model.name, "as_of": as_of,
        "from_stage": from_stage, "to_stage": names[ranks[moved_rows]],
        "from_rank": prev_rank, "to_rank": ranks[moved_rows],
        "direction": direction, "evidence": move_evidence}))

    # a stage row names the stage and its rule; explain adds the current values. Both
    # follow from the rank: landed as codes, looked up by the store
    stage_text = pa.array(model.stage_names, pa.string())
    headers = pa.array([json.dumps(spec) for spec, _ in specs], pa.string())

    def by_rank(rows: npt.NDArray[np.intp]) -> dict[str, pa.Array]:
        codes = pa.array(ranks[rows])
        return {"stage": pa.DictionaryArray.from_arrays(codes, stage_text), "rank": codes,
                "evidence": pa.DictionaryArray.from_arrays(codes, headers)}

    first = np.flatnonzero(is_new)
    assigned_now = by_rank(first)
    writes.append(STAGES, pa.table({
        "customer_id": pa.array(customers[first]), **assigned_now,
        "first_stage": assigned_now["stage"], "first_rank": assigned_now["rank"]}),
        constants={"model": model.name, "since": as_of, "as_of": as_of,
                   "assigned_at": as_of})
    stored_ids = previous.column("prev_id").to_numpy()
    writes.update_by_id(STAGES, pa.table({
        **by_rank(moved_rows), "id": pa.array(stored_ids[at[moved_rows]])}),
        constants={"since": as_of, "as_of": as_of})
    restated_rows = np.flatnonzero(restated)
    writes.update_by_id(STAGES, pa.table({
        "evidence": by_rank(restated_rows)["evidence"],
        "id": pa.array(stored_ids[at[restated_rows]])}), constants={"as_of": as_of})
    kept = np.zeros(previous.num_rows, dtype=bool)
    kept[at[~is_new]] = True

    counted = np.bincount(ranks, minlength=len(model.stages))
    distribution = {stage.name: int(counted[stage.rank]) for stage in model.stages}
    distribution[model.stages[0].name] += prospects
    writes.append(COUNTS, pd.DataFrame([
        {"as_of": as_of, "model": model.name, "stage": stage.name,
         "rank": stage.rank, "customers": distribution[stage.name]}
        for stage in model.stages]))
    return StagePlan(model.name, as_of, pd.Series(stored_ids[~kept]), ModelRefreshSummary(
        model=model.name, distribution=distribution, new=int(is_new.sum()),
        moved_up=int((direction == "up").sum()), moved_down=int((direction == "down").sum())))


@dataclass(frozen=True)
class StagePlan:
    """One model's stage rows worked out (:func:`_store_stages`): the writes queued on
    the plan, and those made by :meth:`write` before it is applied."""

    model: str
    as_of: date
    gone: pd.Series  # ids of the stored rows of customers no longer assessed
    summary: ModelRefreshSummary

    def write(self, session: Session) -> None:
        """Delete the rows of customers no longer assessed (their first assignments
        kept in the history) and this as-of's stage counts, which the plan rewrites."""
        _keep_first_assignments(session, self.gone)
        bulk.delete_by_id(session.connection(), STAGES, self.gone)
        session.execute(delete(StageCount).where(StageCount.as_of == self.as_of,
                                                 StageCount.model == self.model))


def _keep_first_assignments(session: Session, ids: pd.Series) -> None:
    """Copy the first assignment of current rows about to be deleted into the history.

    The current row is the only record of when a customer was first assessed and in
    which stage; the reports rebuild each customer's timeline from it and the moves
    (:func:`kithkin.relationships.reports.load_changes`), so a customer who leaves the
    metrics keeps their place in them, as does a customer who comes back later (with a
    new first assignment). The values read at that assignment are not kept."""
    wanted = [int(i) for i in ids]
    for start in range(0, len(wanted), GONE_CHUNK):
        rows = session.execute(select(
            CustomerStage.customer_id, CustomerStage.model, CustomerStage.assigned_at,
            CustomerStage.first_stage, CustomerStage.first_rank).where(
            CustomerStage.id.in_(wanted[start:start + GONE_CHUNK]))).all()
        if not rows:
            continue
        session.execute(sql_insert(StageChange), [
            {"customer_id": row.customer_id, "model": row.model, "as_of": row.assigned_at,
             "from_stage": None, "to_stage": row.first_stage, "from_rank": None,
             "to_rank": row.first_rank, "direction": "new",
             "evidence": json.dumps({"stage": row.first_stage})} for row in rows])


def _store_profile(writes: bulk.Plan, profile: pd.DataFrame, as_of: date) -> None:
    """Insert new customers' profiles, update the changed ones in place, delete those of
    customers no longer in the metrics; an unchanged row keeps the as-of that wrote it.
    The store compares the rows (a missing value equals a missing one)."""
    writes.sync(PROFILES, profile, key=["customer_id"], constants={"as_of": as_of})


def _store_levels(session: Session, recommended: pd.DataFrame, as_of: date) -> None:
    """Update recommendations; a stored override is never touched by a refresh."""
    existing = {(row.kind, row.segment): row
                for row in session.execute(select(SegmentLevel)).scalars()}
    for record in recommended.to_dict("records"):
        row = existing.get((record["kind"], record["segment"]))
        if row is None:
            session.add(SegmentLevel(as_of=as_of, **record))
            continue
        for key, value in record.items():
            setattr(row, key, value)
        row.as_of = as_of
    session.flush()


# --- segment levels ----------------------------------------------------------------


def list_segment_levels(*, session: Session, kind: str | None = None) -> list[SegmentLevel]:
    query = select(SegmentLevel).order_by(SegmentLevel.kind, SegmentLevel.segment)
    if kind is not None:
        query = query.where(SegmentLevel.kind == kind)
    return list(session.execute(query).scalars())


def get_segment_level(*, session: Session, kind: str, segment: str) -> SegmentLevel:
    row = session.execute(select(SegmentLevel).where(
        SegmentLevel.kind == kind, SegmentLevel.segment == segment)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no segment {segment!r} of kind {kind!r}; run a refresh first")
    return row


def set_level_override(*, session: Session, kind: str, segment: str, level: Level | str,
                       by: str, reason: str | None = None) -> SegmentLevel:
    """Record a user's chosen level for a segment; it wins over the recommendation and
    survives refreshes until cleared."""
    try:
        chosen = Level(level)
    except ValueError as exc:
        raise ValidationError(
            f"unknown level {level!r}; one of {[m.value for m in Level]}") from exc
    row = get_segment_level(session=session, kind=kind, segment=segment)
    row.override_level, row.override_by = chosen.value, by
    row.override_at, row.override_reason = datetime.now(UTC), reason
    session.flush()
    return row


def clear_level_override(*, session: Session, kind: str, segment: str) -> SegmentLevel:
    row = get_segment_level(session=session, kind=kind, segment=segment)
    row.override_level = row.override_by = row.override_reason = None
    row.override_at = None
    session.flush()
    return row


# --- one customer ------------------------------------------------------------------


def explain(*, session: Session, settings: Settings, customer_id: int,
            history_limit: int = 20) -> CustomerExplanation:
    """Why a customer is where they are: stages with evidence, recent moves, health
    scorecard, bonds and tiers (stage definitions from the workspace of ``settings``)."""
    stage_rows = list(session.execute(select(CustomerStage).where(
        CustomerStage.customer_id == customer_id).order_by(CustomerStage.model)).scalars())
    profile = session.execute(select(RelationshipProfile).where(
        RelationshipProfile.customer_id == customer_id)).scalar_one_or_none()
    if not stage_rows and profile is None:
        raise NotFoundError(f"customer {customer_id} has no relationship assessment; "
                            "run `kithkin refresh` first (or the customer does not exist)")
    models = available_models(home=settings.home)
    # a refresh rewrites only changed rows: the others were confirmed by the latest run
    assessed = reports.latest_run_as_of(session=session)
    inputs_used = read_values(profile.evidence, PROFILE_INPUTS) if profile else {}
    stages = []
    for row in stage_rows:
        known = models.get(row.model)
        goal, goal_metric = (known.goal_of(row.stage) if known else None) or (None, None)
        stages.append(CustomerStageRead(
            model=row.model, stage=row.stage, rank=row.rank, since=row.since,
            assigned_at=row.assigned_at, as_of=max(row.as_of, assessed) if assessed else row.as_of,
            goal=goal, goal_metric=goal_metric,
            evidence=_current_evidence(json.loads(row.evidence), inputs_used)))
    changes = session.execute(select(StageChange).where(
        StageChange.customer_id == customer_id).order_by(
        StageChange.as_of.desc(), StageChange.id.desc()).limit(history_limit)).scalars()
    history = [StageChangeRead(model=c.model, as_of=c.as_of, from_stage=c.from_stage,
                               to_stage=c.to_stage, direction=c.direction,
                               evidence=json.loads(c.evidence)) for c in changes]
    # first assignments live on the current rows (the history keeps moves); on one date
    # they come before the moves, so after them in this newest-first list (stable sort)
    history += [StageChangeRead(model=row.model, as_of=row.assigned_at, from_stage=None,
                                to_stage=row.first_stage, direction="new",
                                evidence={"stage": row.first_stage}) for row in stage_rows]
    history.sort(key=lambda change: change.as_of, reverse=True)
    del history[history_limit:]
    return CustomerExplanation(
        customer_id=customer_id,
        as_of=(max(profile.as_of, assessed) if assessed else profile.as_of) if profile
        else None, stages=stages,
        history=history, health=_health(profile, inputs_used) if profile else None,
        bonds=_bonds(profile, inputs_used) if profile else None,
        value_tier=profile.value_tier if profile else None,
        net_margin=profile.net_margin if profile else None,
        potential=profile.potential if profile else None,
        needs_segment=profile.needs_segment if profile else None)


def _current_evidence(stored: dict[str, Any], inputs_used: dict[str, Any]) -> dict[str, Any]:
    """The stage evidence with the values the rule reads now: a stage row names the stage
    and its rule (written when the customer enters the stage), the profile (rewritten
    when a value changes) holds the latest value of every metric the rules read."""
    values = stored.get("values")
    if isinstance(values, dict):  # rows written before the profile held rule inputs
        stored["values"] = {name: inputs_used.get(name, value)
                            for name, value in values.items()}
        return stored
    try:
        metrics = compile_rule(str(stored.get("rule", ""))).metrics
    except RuleError:
        metrics = ()
    return {**stored, "values": {name: inputs_used.get(name) for name in metrics}}


def _health(profile: RelationshipProfile, evidence: dict[str, Any]) -> HealthScorecard:
    scores = {name: getattr(profile, f"health_{name}") for name in CHARACTERISTICS}
    return HealthScorecard(**scores, overall=profile.health_overall,
                           known=profile.health_known,
                           evidence={k: evidence.get(k) for k in HEALTH_INPUTS})


def _bonds(profile: RelationshipProfile, evidence: dict[str, Any]) -> BondInventoryRead:
    return BondInventoryRead(
        financial=profile.bond_financial, social=profile.bond_social,
        customization=profile.bond_customization, structural=profile.bond_structural,
        switching_barrier=profile.switching_barrier,
        evidence={k: evidence.get(k) for k in BOND_INPUTS})


def current_stages(*, session: Session, model: str,
                   customer_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """customer_id, stage, rank, since for one model (optionally some customers only)."""
    query = select(CustomerStage.customer_id, CustomerStage.stage, CustomerStage.rank,
                   CustomerStage.since).where(CustomerStage.model == model)
    if customer_ids is not None:
        query = query.where(CustomerStage.customer_id.in_(list(customer_ids)))
    rows = session.execute(query.order_by(CustomerStage.customer_id)).all()
    return pd.DataFrame([tuple(r) for r in rows],
                        columns=["customer_id", "stage", "rank", "since"])

