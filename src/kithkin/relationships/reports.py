"""Reports over the stage history: distribution over time, transitions, time in stage,
the funnel between adjacent stages, and customers who moved down.

Each report is a pure function over a frame of stage changes (so tests craft history
directly) plus a session wrapper that reads the store. The store keeps real moves in
``stage_change`` and each customer's first assignment on their current row
(``customer_stage``); :func:`timeline` puts the two back together as one frame of
changes, first assignments included (direction ``new``).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.relationships.definitions import StageModel
from kithkin.relationships.models import CustomerStage, RelationshipRun, StageChange, StageCount

NO_STAGE = "(none)"
CHANGE_COLUMNS = ["customer_id", "as_of", "from_stage", "to_stage", "from_rank", "to_rank",
                  "direction"]


FIRST_COLUMNS = ["customer_id", "as_of", "stage", "rank"]


def timeline(moves: pd.DataFrame, firsts: pd.DataFrame) -> pd.DataFrame:
    """Stage changes in the order they happened: the stored ``moves`` (``CHANGE_COLUMNS``,
    in stored order) and the first assignments held on current rows (``FIRST_COLUMNS``)
    as ``new`` changes. A first assignment comes before a move on the same date (a
    refresh run again on its date can move a customer it has just assessed)."""
    columns: dict[str, list[object]] = {
        "customer_id": [*firsts["customer_id"], *moves["customer_id"]],
        "as_of": [*firsts["as_of"], *moves["as_of"]],
        "from_stage": [None] * len(firsts) + list(moves["from_stage"]),
        "to_stage": [*firsts["stage"], *moves["to_stage"]],
        "from_rank": [None] * len(firsts) + list(moves["from_rank"]),
        "to_rank": [*firsts["rank"], *moves["to_rank"]],
        "direction": ["new"] * len(firsts) + list(moves["direction"]),
    }
    frame = pd.DataFrame(columns, columns=CHANGE_COLUMNS)
    return frame.sort_values("as_of", kind="stable").reset_index(drop=True)


def load_changes(*, session: Session, model: str, end: date | None = None) -> pd.DataFrame:
    """The model's :func:`timeline` up to ``end``: moves and first assignments."""
    moves = select(StageChange.customer_id, StageChange.as_of, StageChange.from_stage,
                   StageChange.to_stage, StageChange.from_rank, StageChange.to_rank,
                   StageChange.direction).where(StageChange.model == model)
    firsts = select(CustomerStage.customer_id, CustomerStage.assigned_at,
                    CustomerStage.first_stage, CustomerStage.first_rank).where(
        CustomerStage.model == model)
    if end is not None:
        moves = moves.where(StageChange.as_of <= end)
        firsts = firsts.where(CustomerStage.assigned_at <= end)
    stored = session.execute(moves.order_by(StageChange.as_of, StageChange.id)).all()
    entered = session.execute(firsts.order_by(CustomerStage.customer_id)).all()
    return timeline(pd.DataFrame([tuple(row) for row in stored], columns=CHANGE_COLUMNS),
                    pd.DataFrame([tuple(row) for row in entered], columns=FIRST_COLUMNS))


def stages_at(changes: pd.DataFrame, when: date) -> pd.Series:
    """Each customer's stage on ``when``: the target of their last change up to then."""
    upto = changes[changes["as_of"] <= when]
    last = upto.drop_duplicates("customer_id", keep="last")
    return pd.Series(last["to_stage"].to_numpy(), index=last["customer_id"].to_numpy())


def transition_matrix(changes: pd.DataFrame, stages: list[str], start: date,
                      end: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(counts, row rates): stage on ``start`` (rows) by stage on ``end`` (columns).

    Customers without a stage on ``start`` (first assessed later) are the ``(none)`` row.
    """
    before, after = stages_at(changes, start), stages_at(changes, end)
    joined = pd.DataFrame({"to": after}).join(pd.DataFrame({"from": before}), how="left")
    joined["from"] = joined["from"].fillna(NO_STAGE)
    rows = [NO_STAGE, *stages]
    counts = pd.crosstab(joined["from"], joined["to"]).reindex(
        index=rows, columns=stages, fill_value=0)
    counts = counts.loc[(counts.sum(axis=1) > 0) | (counts.index != NO_STAGE)]
    totals = counts.sum(axis=1).replace(0, np.nan)
    rates = counts.div(totals, axis=0).fillna(0.0).round(4)
    counts.index.name, counts.columns.name = "from", "to"
    rates.index.name, rates.columns.name = "from", "to"
    return counts, rates


def funnel(changes: pd.DataFrame, stages: list[str], end: date | None = None) -> pd.DataFrame:
    """Cumulative funnel: how many customers ever reached each stage (or higher) up to
    ``end``, and the conversion rate from each stage to the next one up."""
    upto = changes if end is None else changes[changes["as_of"] <= end]
    best = upto.groupby("customer_id")["to_rank"].max()
    reached = [int((best >= rank).sum()) for rank in range(len(stages))]
    rates: list[float | None] = [
        round(reached[i + 1] / reached[i], 4) if reached[i] else None
        for i in range(len(stages) - 1)
    ]
    return pd.DataFrame({"stage": stages, "reached": reached,
                         "conversion_to_next": [*rates, None]})


def time_in_stage(changes: pd.DataFrame, stages: list[str], as_of: date) -> pd.DataFrame:
    """Spells per stage: completed (left the stage) and open (still in it on ``as_of``),
    with their mean length in days. Open spells are right-censored at ``as_of``."""
    spells = changes[changes["as_of"] <= as_of].sort_values(["customer_id", "as_of"],
                                                           kind="stable")
    started = pd.to_datetime(spells["as_of"])
    ended = started.groupby(spells["customer_id"].to_numpy()).shift(-1)
    open_spell = ended.isna().to_numpy()
    days = (ended.fillna(pd.Timestamp(as_of)) - started).dt.days.to_numpy()
    frame = pd.DataFrame({"stage": spells["to_stage"].to_numpy(), "open": open_spell,
                          "days": days})
    rows = []
    for stage in stages:
        mine = frame[frame["stage"] == stage]
        done, still = mine[~mine["open"]], mine[mine["open"]]
        rows.append({
            "stage": stage, "completed_spells": len(done),
            "mean_days_completed": round(float(done["days"].mean()), 1) if len(done) else None,
            "current_customers": len(still),
            "mean_days_so_far": round(float(still["days"].mean()), 1) if len(still) else None,
        })
    return pd.DataFrame(rows)


# --- session wrappers --------------------------------------------------------------
# They take the model's definition (stage order), resolved by the caller from its
# workspace (:func:`kithkin.relationships.workspace.get_model`).


def distribution(*, session: Session, model: StageModel) -> pd.DataFrame:
    """Customers per stage (columns, in stage order) at every refresh (rows)."""
    rows = session.execute(
        select(StageCount.as_of, StageCount.stage, StageCount.customers)
        .where(StageCount.model == model.name)).all()
    stages = model.stage_names
    frame = pd.DataFrame([tuple(r) for r in rows], columns=["as_of", "stage", "customers"])
    table = frame.pivot_table(index="as_of", columns="stage", values="customers",
                              aggfunc="sum", fill_value=0)
    extra = [c for c in table.columns if c not in stages]  # stages of an older model
    return table.reindex(columns=stages + extra, fill_value=0).astype(int)


def transitions(*, session: Session, model: StageModel, start: date,
                end: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    changes = load_changes(session=session, model=model.name, end=end)
    return transition_matrix(changes, model.stage_names, start, end)


def conversion_funnel(*, session: Session, model: StageModel,
                      end: date | None = None) -> pd.DataFrame:
    changes = load_changes(session=session, model=model.name, end=end)
    return funnel(changes, model.stage_names, end)


def stage_durations(*, session: Session, model: StageModel,
                    as_of: date | None = None) -> pd.DataFrame:
    when = as_of or latest_run_as_of(session=session) or date.today()
    changes = load_changes(session=session, model=model.name, end=when)
    return time_in_stage(changes, model.stage_names, when)


def prospects_in_lowest_stage(*, session: Session, model: StageModel) -> int:
    """Open prospects counted in the model's lowest stage at its latest refresh.

    "Stranger" (journey) and "prospect" (ladder) have one definition: never transacted,
    which covers customers without a transaction and open prospects (people with no
    customer record). ``stage_count`` and the distributions count both; tables built from
    per-customer rows (transitions, funnel, the customer list) can only hold customers,
    so pages show this number beside them instead of a second, smaller stranger count.
    """
    if not model.includes_prospects:
        return 0
    name, lowest = model.name, model.stages[0].name
    latest = session.scalar(select(func.max(StageCount.as_of)).where(StageCount.model == name))
    if latest is None:
        return 0
    counted = session.scalar(select(StageCount.customers).where(
        StageCount.model == name, StageCount.as_of == latest, StageCount.stage == lowest))
    customers = session.scalar(select(func.count()).select_from(CustomerStage).where(
        CustomerStage.model == name, CustomerStage.stage == lowest))
    return max(0, int(counted or 0) - int(customers or 0))


def presets_used(*, session: Session) -> dict[str, str]:
    """model -> preset the latest relationship refresh assigned with (transaction-only
    data, :mod:`kithkin.relationships.presets`); empty when it used the models as is."""
    evidence = session.scalar(select(RelationshipRun.evidence)
                              .order_by(RelationshipRun.id.desc()).limit(1)) or {}
    return {str(k): str(v) for k, v in (evidence.get("presets") or {}).items()}


def latest_run_as_of(*, session: Session) -> date | None:
    return session.execute(select(func.max(RelationshipRun.as_of))).scalar_one_or_none()


def moved_down(*, session: Session, model: str | None = None,
               scope: CustomerScope = EVERYONE) -> pd.DataFrame:
    """Customers in ``scope`` who moved down at the latest refresh (per model)."""
    latest = latest_run_as_of(session=session)
    query = select(StageChange.customer_id, StageChange.model, StageChange.from_stage,
                   StageChange.to_stage, StageChange.evidence).where(
        StageChange.as_of == latest, StageChange.direction == "down",
        *scope.rows(StageChange.customer_id))
    if model is not None:
        query = query.where(StageChange.model == model)
    rows = session.execute(query.order_by(StageChange.model, StageChange.customer_id)).all()
    return pd.DataFrame([tuple(r) for r in rows],
                        columns=["customer_id", "model", "from_stage", "to_stage", "evidence"])
