"""`kithkin refresh`: snapshot -> summaries -> features -> holdout (purchase-model
choice) -> models -> at risk -> store -> defection -> relationships -> offers -> loyalty
-> playbooks.

The holdout step fits BG/NBD, MBG/NBD and Pareto/NBD on all but the last
``holdout_days`` and picks the one whose P(alive) ranks the holdout's repeat buyers best
(:mod:`kithkin.atrisk.selection`); the models step uses it for P(alive), expected
purchases and CLV; the at-risk step trains the at-risk score on the data's own past and
assigns defection stages (:mod:`kithkin.atrisk`); the defection step records the stage
changes and opens exit-interview tasks.

Each step is a function so it can be timed and reported on its own; :func:`run` chains
them and calls ``on_step(name)`` before each one (the CLI drives a Rich progress display
with it). The store and defection steps only write what is already computed: they land
in a writer thread while the relationship engine computes, so the steps' times add up to
more than the run's (``RefreshResult.seconds``). The metrics block of the as-of date is
replaced atomically, with the fitted model parameters and the step timings stored in
``metrics_run``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from kithkin.analytics import engine as analytics_engine
from kithkin.analytics import fitting as models
from kithkin.analytics import holdout, relationship_features
from kithkin.analytics import metrics as metrics_block
from kithkin.analytics import service as metrics_service
from kithkin.analytics.features import line_totals
from kithkin.analytics.history import costed_transactions, customer_history, summary_of
from kithkin.analytics.holdout import calibration_end
from kithkin.analytics.summary import customer_summary
from kithkin.atrisk import pipeline as atrisk_pipeline
from kithkin.atrisk import rules as defection_rules
from kithkin.atrisk import service as atrisk_service
from kithkin.atrisk.selection import Fitted
from kithkin.config import Settings
from kithkin.database import bulk
from kithkin.database.core import get_engine, session_scope
from kithkin.errors import ConflictError, KithkinError
from kithkin.loyalty import ledger as loyalty_ledger
from kithkin.loyalty import programme as loyalty_programme
from kithkin.loyalty import references as loyalty_references
from kithkin.offers import compute as offers_compute
from kithkin.playbooks import service as playbook_service
from kithkin.playbooks.schemas import RunReport
from kithkin.relationships import reports as relationship_reports
from kithkin.relationships import service as relationship_service
from kithkin.relationships.schemas import RelationshipRefreshReport

_T = TypeVar("_T")

STEPS: tuple[str, ...] = ("snapshot", "summary", "features", "holdout", "models", "at_risk",
                          "store", "defection", "relationships", "offers", "loyalty",
                          "playbooks")


@dataclass
class RefreshResult:
    as_of: date
    engine: str
    customers: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    # wall time of the whole run: less than the steps' sum, since the landing overlaps
    seconds: float = 0.0
    model_params: dict[str, Any] = field(default_factory=dict)
    model_error: str | None = None
    snapshot: tuple[Any, ...] = ()
    relationships: RelationshipRefreshReport | None = None
    loyalty: loyalty_ledger.GrantResult | None = None
    offers: offers_compute.OfferReport | None = None
    playbooks: RunReport | None = None
    playbooks_error: str | None = None  # the refresh stands; the playbooks did not run
    defection: dict[str, Any] = field(default_factory=dict)


def one_blas_thread() -> threadpool_limits:
    """BLAS on one thread for the model steps: their matrix products are small (two
    dozen columns by the at-risk score's training sample at most), and threaded OpenBLAS
    on a busy machine can spend far longer with its threads waiting for each other than
    on the products (seen in the at-risk logistic fit and the Gamma-Gamma fit)."""
    return threadpool_limits(limits=1, user_api="blas")


def order_history(source: analytics_engine.AnalyticsSource, *, as_of: date,
                  holdout_days: int) -> ir.Table:
    """The one aggregation over the orders that the summary, features and holdout steps
    all read (:mod:`kithkin.analytics.history`), materialised: the caller releases it
    (:func:`kithkin.analytics.engine.release`)."""
    costed = costed_transactions(source.transactions,
                                 line_totals(source.lines, source.products), as_of=as_of)
    return customer_history(
        costed, as_of=as_of,
        calibration_end=calibration_end(as_of, holdout_days) if holdout_days > 0 else None,
    ).cache()


def summary_frame(source: analytics_engine.AnalyticsSource, *, as_of: date,
                  history: ir.Table | None = None) -> pd.DataFrame:
    """The daily BTYD summary of every customer with a purchase by the as-of date
    (from ``history``, :func:`order_history`, when given)."""
    expr = (customer_summary(source.transactions, as_of=as_of) if history is None
            else summary_of(history, as_of=as_of))
    return analytics_engine.to_pandas(source, expr)


def feature_frame(source: analytics_engine.AnalyticsSource, *, as_of: date,
                  history: ir.Table | None = None) -> pd.DataFrame:
    """The metrics block without the model columns; value features computed once."""
    features = metrics_block.value_features(source, as_of=as_of, history=history).cache()
    try:
        return analytics_engine.to_pandas(
            source, metrics_block.feature_block(source, as_of=as_of, features=features))
    finally:
        analytics_engine.release(source, features)


def combine(features: pd.DataFrame, summary: pd.DataFrame,
            predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per customer of the block: features + summary + model predictions.

    The left merges on ``customer_id``, done as lookups by customer: the summary's and
    predictions' columns are added to a shallow copy of the features (a million rows by
    some forty columns, not copied through a join)."""
    ids = features["customer_id"].to_numpy()
    keyed = [other.set_index("customer_id") for other in (summary, predictions)]
    added = [name for frame in keyed for name in frame.columns]
    if (len(set(added)) < len(added) or set(added) & set(features.columns)
            or not all(frame.index.is_unique for frame in keyed)):
        block = features.merge(summary, on="customer_id", how="left")
        return block.merge(predictions, on="customer_id", how="left")
    block = (features.copy(deep=False) if features.index.equals(pd.RangeIndex(len(features)))
             else features.reset_index(drop=True))
    for frame in keyed:
        aligned = frame.reindex(ids)
        for name in aligned.columns:
            block[name] = aligned[name].to_numpy()
    return block


def choose_purchase_model(source: analytics_engine.AnalyticsSource, *, as_of: date,
                          options: models.ModelOptions,
                          history: ir.Table | None = None) -> atrisk_pipeline.ModelChoice:
    """The holdout step: the calibration split (from ``history``, :func:`order_history`,
    when given) and the purchase model chosen on it."""
    split = (atrisk_pipeline.calibration_split(source, as_of=as_of,
                                               holdout_days=options.holdout_days,
                                               history=history)
             if options.holdout_days > 0 else pd.DataFrame())
    with one_blas_thread():
        return atrisk_pipeline.choose_model(split, holdout_days=options.holdout_days,
                                            pinned=options.purchase_model)


def fit_models(*, summary: pd.DataFrame, features: pd.DataFrame,
               choice: atrisk_pipeline.ModelChoice, as_of: date,
               options: models.ModelOptions, settings: Settings,
               result: RefreshResult) -> tuple[Fitted | None, models.ModelOutput]:
    """The models step: every candidate fitted on the whole history, the chosen one's
    predictions with Gamma-Gamma's, and its holdout check; recorded on ``result``."""
    margin, margin_source = models.choose_margin(
        features, option=options.margin, default_margin=settings.default_margin)
    with one_blas_thread():
        full = atrisk_pipeline.fit_full(summary) if len(summary) else None
        chosen = atrisk_pipeline.chosen_model(choice, full) if full is not None else None
        key = next((k for k, m in full.models.items() if m is chosen), "") if full else ""
        fitted = models.fit_and_predict(summary, margin=margin, options=options,
                                        margin_source=margin_source,
                                        purchase_model=(key, chosen) if chosen else None)
    result.model_params, result.model_error = fitted.params, fitted.error
    result.model_params["model_choice"] = {**choice.record(),
                                           "full_fit_customers": full.sample if full else 0}
    for name, model in (full.models.items() if full else ()):
        result.model_params.setdefault(name, json.loads(model.to_json()))
    if chosen is not None and key in choice.fits.models:
        with one_blas_thread():
            result.model_params["holdout"] = holdout.evaluate(
                choice.split, as_of=as_of, holdout_days=options.holdout_days,
                model=choice.fits.models[key])
    return full, fitted


def rule_inputs(block: pd.DataFrame, signals: pd.DataFrame) -> pd.DataFrame:
    """The block's columns the defection rules read (:func:`kithkin.atrisk.rules.assign`),
    with the signals' where the block has none: what a left merge of the block with the
    signals gives those columns (a column of both is the block's), without copying the
    whole block."""
    own = [c for c in (*defection_rules.PURCHASE_INPUTS, *defection_rules.SIGNAL_INPUTS)
           if c in block]
    added = [c for c in defection_rules.SIGNAL_INPUTS if c not in block and c in signals]
    keyed = signals.set_index("customer_id")[added]
    if not keyed.index.is_unique:  # not one row per customer: as the merge would have it
        merged = block[own].merge(signals[["customer_id", *added]], on="customer_id",
                                  how="left")
        return merged
    aligned = keyed.reindex(block["customer_id"].to_numpy()).reset_index(drop=True)
    return pd.concat([block[own].reset_index(drop=True), aligned], axis=1)


def at_risk_step(*, engine: Engine, settings: Settings,
                 source: analytics_engine.AnalyticsSource, as_of: date,
                 options: models.ModelOptions, features: pd.DataFrame, summary: pd.DataFrame,
                 predictions: pd.DataFrame, choice: atrisk_pipeline.ModelChoice,
                 full: Fitted | None, result: RefreshResult
                 ) -> tuple[pd.DataFrame, pd.DataFrame, bulk.Ahead]:
    """The at-risk step: the block combined, its value and model columns staged (the
    returned ``Ahead``, for the store step) while who is at risk is worked out; returns
    the scored block and its defection-stage changes."""
    block = combine(features, summary, predictions)
    ahead = metrics_service.stage_ahead(engine=engine, as_of=as_of, metrics=block)
    try:
        block = score_and_assign(engine=engine, settings=settings, source=source,
                                 as_of=as_of, options=options, summary=summary,
                                 block=block, choice=choice, full=full, result=result)
    except BaseException:
        ahead.discard()
        raise
    return block, block.attrs.pop("changes"), ahead


def score_and_assign(*, engine: Engine, settings: Settings,
                     source: analytics_engine.AnalyticsSource, as_of: date,
                     options: models.ModelOptions, summary: pd.DataFrame, block: pd.DataFrame,
                     choice: atrisk_pipeline.ModelChoice,
                     full: Fitted | None,
                     result: RefreshResult) -> pd.DataFrame:
    """The at-risk score, value at risk and defection stage of every customer of the
    block; the stage changes ride along in ``block.attrs["changes"]``."""
    scored = full is not None and bool(full.models) and len(summary) > 0
    then = None
    if scored and options.holdout_days > 0 and choice.fits.models:
        # both dates' signals in one engine pass
        signals, then = atrisk_pipeline.signals_frames(source, dates=[
            as_of, calibration_end(as_of, options.holdout_days)])
    else:
        signals = atrisk_pipeline.signals_frame(source, as_of=as_of)
    block["at_risk"] = np.nan
    if scored and full is not None:
        with one_blas_thread():
            at_risk, _ = atrisk_pipeline.assess(
                source, as_of=as_of, holdout_days=options.holdout_days, summary=summary,
                choice=choice, full=full, signals_now=signals, signals_then=then)
        result.model_params["at_risk"] = at_risk.record
        if at_risk.score is not None:
            scores = pd.Series(at_risk.score, index=summary["customer_id"].to_numpy())
            block["at_risk"] = block["customer_id"].map(scores)
    block["value_at_risk"] = block["clv"] * block["at_risk"]
    with session_scope(engine) as session:
        previous = atrisk_service.previous_stages(session=session, as_of=as_of)
    stages, changes = defection_rules.assign(rule_inputs(block, signals), previous,
                                             as_of=as_of,
                                             limits=atrisk_service.limits(settings))
    block["defection_stage"] = stages["defection_stage"].to_numpy()
    block["defection_since"] = stages["defection_since"].to_numpy()
    block.attrs["changes"] = changes
    counts = block["defection_stage"].value_counts().to_dict()
    result.model_params["defection"] = {"changes": len(changes),
                                        "stages": {str(k): int(v) for k, v in counts.items()}}
    return block


def record_defections(*, engine: Engine, settings: Settings, result: RefreshResult,
                      block: pd.DataFrame, changes: pd.DataFrame,
                      session: Session | None = None, staged: bulk.Plan | None = None
                      ) -> None:
    """The stage changes this refresh found, and one exit-interview task per recent
    defection of a customer worth asking (:func:`kithkin.atrisk.service.create_exit_interviews`);
    in ``session`` when given (the caller commits it), with the changes ``staged`` in it
    already (:func:`kithkin.atrisk.service.stage_changes`)."""
    scope = nullcontext(session) if session is not None else session_scope(engine)
    with scope as active, atrisk_service.storing_changes(
            session=active, as_of=result.as_of, changes=changes, staged=staged) as written:
        bulk.defer_checkpoint(active.connection())  # the landing's own (see run)
        # the tasks go in while the changes are staged (they do not read them back)
        revenue = pd.Series(block["revenue"].to_numpy(), index=block["customer_id"].to_numpy())
        tasks = atrisk_service.create_exit_interviews(session=active, settings=settings,
                                                      as_of=result.as_of, revenue=revenue,
                                                      changes=changes)
    result.defection = {**result.model_params.get("defection", {}), "changes": written,
                        "exit_interview_tasks": tasks}


def store(*, engine: Engine, result: RefreshResult, block: pd.DataFrame,
          ahead: bulk.Ahead | None = None) -> int:
    with session_scope(engine) as session:
        bulk.defer_checkpoint(session.connection())  # the landing's own (see run)
        return metrics_service.replace_as_of(
            session=session, as_of=result.as_of, metrics=block, ahead=ahead,
            run={"engine": result.engine, "model_params": result.model_params,
                 "model_error": result.model_error},
        )


def land(*, engine: Engine, settings: Settings, result: RefreshResult,
         block: pd.DataFrame, changes: pd.DataFrame, ahead: bulk.Ahead | None = None,
         committed: Future[None] | None = None) -> None:
    """The writer thread's work (see :func:`run`): the metrics block, then the
    defection changes (staged while the block lands) and exit interviews, each
    committed without a checkpoint; ``committed`` is resolved then (or fails with the
    landing's error), and the write-ahead log is checkpointed after."""
    try:
        # the changes' session first: they are staged while the block lands
        with session_scope(engine) as session:
            started = time.perf_counter()
            staged = atrisk_service.stage_changes(session=session, as_of=result.as_of,
                                                  changes=changes)
            staging = time.perf_counter() - started
            try:
                try:
                    result.customers = _timed(result.timings, "store", lambda: store(
                        engine=engine, result=result, block=block, ahead=ahead))
                finally:
                    if ahead is not None:
                        ahead.discard()
            except BaseException:
                staged.discard()
                raise
            started = time.perf_counter()
            record_defections(engine=engine, settings=settings, result=result, block=block,
                              changes=changes, session=session, staged=staged)
            session.commit()
            result.timings["defection"] = round(staging + time.perf_counter() - started, 3)
    except BaseException as error:
        if committed is not None:
            committed.set_exception(error)
        raise
    if committed is not None:
        committed.set_result(None)
    _timed(result.timings, "checkpoint", lambda: bulk.checkpoint(engine))


def refresh_relationships(*, engine: Engine, settings: Settings,
                          source: analytics_engine.AnalyticsSource,
                          result: RefreshResult, block: pd.DataFrame,
                          ready: Callable[[], object] | None = None) -> None:
    """Stages, health, bonds and levels from the new block and the event aggregates the
    relationship engine reads besides it, computed on ``source`` like the block;
    ``ready`` is called before the first write (see :func:`run`)."""
    with session_scope(engine) as session:
        # its commit leaves the write-ahead log to a checkpoint run after it (see run)
        bulk.defer_checkpoint(session.connection())
        events = relationship_features.compute(source, as_of=result.as_of)
        result.relationships = relationship_service.refresh(
            session=session, settings=settings, as_of=result.as_of, metrics=block,
            events=events, ready=ready)


def run_playbooks(*, engine: Engine, settings: Settings, result: RefreshResult,
                  source: analytics_engine.AnalyticsSource | None = None,
                  metrics: pd.DataFrame | None = None) -> None:
    """Every active playbook over the refreshed results (metrics, stages, interactions,
    memberships; the orders from ``source``, the refresh's snapshot; the metrics from
    ``metrics``, the block the refresh stored, when given). A playbook error
    (an edited playbooks.toml naming a missing playbook...) does not undo the refresh:
    it is kept on the result and in ``playbook_run``."""
    try:
        result.playbooks = playbook_service.run(engine=engine, settings=settings,
                                                as_of=result.as_of, mode="refresh",
                                                source=source, metrics=metrics)
    except KithkinError as exc:
        result.playbooks_error = str(exc)
        playbook_service.record_failure(engine=engine, as_of=result.as_of, mode="refresh",
                                        error=str(exc))


def refuse_backfill(*, engine: Engine, as_of: date) -> None:
    """Refuse, before anything is computed or stored, an as-of before the latest
    relationship refresh: stage history only moves forward, and a refresh that stored
    the metrics but left the stages as they were would be a partial run reported as a
    success. Re-running the latest date, or any later one, is a complete refresh."""
    with session_scope(engine) as session:
        latest = relationship_reports.latest_run_as_of(session=session)
    if latest is not None and as_of < latest:
        raise ConflictError(
            f"cannot refresh as of {as_of}: the latest refresh is as of {latest}, and "
            "relationship stage history only moves forward, so an earlier date cannot be "
            f"refreshed completely. Refresh as of {latest} or later (kithkin refresh "
            f"--as-of {latest}); nothing was computed or stored.")


def grant_points(*, engine: Engine, settings: Settings,
                 source: analytics_engine.AnalyticsSource, result: RefreshResult) -> None:
    """Loyalty points for every order up to the as-of date, refunds, expiry: each source
    once, so the events API's immediate grants and this catch-up never double up."""
    programme = loyalty_programme.load(settings.home)
    with loyalty_references.checked_once(engine) as session:
        granted = loyalty_ledger.grant(session, programme, as_of=result.as_of, source=source)
    result.loyalty = granted


def _timed(timings: dict[str, float], name: str, work: Callable[[], _T]) -> _T:
    started = time.perf_counter()
    try:
        return work()
    finally:
        timings[name] = round(time.perf_counter() - started, 3)


def record_timings(*, engine: Engine, result: RefreshResult) -> None:
    with session_scope(engine) as session:
        metrics_service.finish_run(session=session, as_of=result.as_of,
                                   timings=result.timings)


def run(
    *,
    settings: Settings,
    as_of: date,
    options: models.ModelOptions | None = None,
    store_engine: Engine | None = None,
    source: analytics_engine.AnalyticsSource | None = None,
    on_step: Callable[[str], None] | None = None,
) -> RefreshResult:
    """Compute and store every customer's metrics as of ``as_of`` (see module docstring).

    A model that does not converge does not fail the refresh: the non-model metrics are
    stored, the model columns stay empty and ``model_error`` says why. An as-of before
    the latest refresh raises :class:`ConflictError` before any work
    (:func:`refuse_backfill`): a refresh is complete or is not run.
    """
    options = options or models.ModelOptions()
    engine = store_engine or get_engine(settings.resolved_database_url)
    result = RefreshResult(as_of=as_of, engine=settings.analytics_engine)
    began = time.perf_counter()
    refuse_backfill(engine=engine, as_of=as_of)

    @contextmanager
    def step(name: str) -> Iterator[None]:
        if on_step is not None:
            on_step(name)
        started = time.perf_counter()
        yield
        result.timings[name] = round(time.perf_counter() - started, 3)

    with step("snapshot"):
        source = source or analytics_engine.connect(settings, store=engine)
        result.snapshot = source.snapshot
        result.engine = source.engine
    history = None
    try:
        with step("summary"):
            history = order_history(source, as_of=as_of, holdout_days=options.holdout_days)
            summary = summary_frame(source, as_of=as_of, history=history)
        with step("features"):
            features = feature_frame(source, as_of=as_of, history=history)
        with step("holdout"):
            choice = choose_purchase_model(source, as_of=as_of, options=options,
                                           history=history)
    finally:
        if history is not None:
            analytics_engine.release(source, history)
    with step("models"):
        full, fitted = fit_models(summary=summary, features=features, choice=choice,
                                  as_of=as_of, options=options, settings=settings,
                                  result=result)
    with step("at_risk"):
        block, changes, ahead = at_risk_step(
            engine=engine, settings=settings, source=source, as_of=as_of, options=options,
            features=features, summary=summary, predictions=fitted.predictions,
            choice=choice, full=full, result=result)
    # The block and the defections land in a writer thread while the relationship engine
    # computes from the block in memory; it waits for them to be committed before its
    # first write (SQLite has one writer, and a failed landing must stop the refresh
    # before it). Their commits leave the write-ahead log as it is: the writer copies it
    # into the database file afterwards, while the relationships write. The writer gets
    # its own copy: a pandas read may regroup a frame's blocks in place.
    landing = block.copy()
    committed: Future[None] = Future()

    if on_step is not None:
        on_step("store")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kithkin-landing") as writer:
        landed = writer.submit(land, engine=engine, settings=settings, result=result,
                               block=landing, changes=changes, ahead=ahead,
                               committed=committed)
        try:
            with step("relationships"):
                refresh_relationships(engine=engine, settings=settings, source=source,
                                      result=result, block=block, ready=committed.result)
        finally:
            landed.result()  # a landing error first: the relationships waited on it
        # The relationships' commit left their rows in the write-ahead log: the writer
        # copies them into the database file while the next steps compute (a passive
        # checkpoint blocks neither their reads nor their writes).
        checkpointed = writer.submit(_timed, result.timings, "relationships_checkpoint",
                                     lambda: bulk.checkpoint(engine))
        with step("offers"):
            result.offers = offers_compute.refresh(store=engine, source=source, as_of=as_of)
        with step("loyalty"):
            grant_points(engine=engine, settings=settings, source=source, result=result)
        with step("playbooks"):
            run_playbooks(engine=engine, settings=settings, result=result, source=source,
                          metrics=landing)
        checkpointed.result()
    result.seconds = round(time.perf_counter() - began, 3)
    record_timings(engine=engine, result=result)
    return result
