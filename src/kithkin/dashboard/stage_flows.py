"""Read model of the stage-flows page: the stage history of one model between two
refreshes, shaped for tables and charts (distribution, transition matrix, Sankey, funnel,
customers who moved down)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kithkin.customers.models import Customer
from kithkin.dashboard import charts
from kithkin.errors import ValidationError
from kithkin.relationships import reports
from kithkin.relationships.definitions import StageModel

# The page lists the first moves; `kithkin stages report down` and the API list all.
MOVED_DOWN_SHOWN = 25


@dataclass(frozen=True)
class MatrixRow:
    stage: str
    cells: list[tuple[int, float]]  # (customers, share of the row) per stage on the end date
    total: int


@dataclass(frozen=True)
class FunnelStep:
    stage: str
    reached: int
    conversion_to_next: float | None


@dataclass(frozen=True)
class DownMove:
    customer_id: int
    name: str
    from_stage: str
    to_stage: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class StageFlows:
    model: str
    dates: list[date]
    start: date
    end: date
    stages: list[str]
    distribution: charts.Chart
    matrix: list[MatrixRow]
    sankey: charts.Chart | None
    funnel: list[FunnelStep]
    moved_down: list[DownMove]
    moved_down_total: int
    latest: date | None
    # open prospects in the lowest stage's counts: in the distribution, not in the
    # per-customer transitions and funnel (reports.prospects_in_lowest_stage)
    prospects: int = 0


def _pick(dates: list[date], start: date | None, end: date | None) -> tuple[date, date]:
    """The period: two refresh dates (default: the last two), start before end."""
    end = end or dates[-1]
    start = start or (dates[-2] if len(dates) > 1 else dates[-1])
    for chosen in (start, end):
        if chosen not in dates:
            raise ValidationError(f"{chosen} is not a refresh date; choose one of "
                                  f"{', '.join(d.isoformat() for d in dates)}")
    if start > end:
        raise ValidationError(f"the period must start ({start}) before it ends ({end})")
    return start, end


def sankey_chart(counts: list[MatrixRow], stages: list[str], start: date,
                 end: date) -> charts.Chart | None:
    """Moves from the stage on ``start`` (left) to the stage on ``end`` (right)."""
    sources = [row.stage for row in counts]
    labels = [f"{s} ({start})" for s in sources] + [f"{s} ({end})" for s in stages]
    source, target, value, words = [], [], [], []
    rows: list[list[str]] = []
    for i, row in enumerate(counts):
        for j, (n, _) in enumerate(row.cells):
            if n:
                source.append(i)
                target.append(len(sources) + j)
                value.append(n)
                words.append(f"{row.stage} to {stages[j]} {n}")
                rows.append([row.stage, stages[j], charts.cell(n)])
    if not value:
        return None
    colours = [charts.PALETTE[i % len(charts.PALETTE)] for i in range(len(sources))]
    figure = {"data": [{
        "type": "sankey", "arrangement": "snap",
        "node": {"label": labels, "pad": 14, "thickness": 14,
                 "color": colours + [charts.PALETTE[j % len(charts.PALETTE)]
                                     for j in range(len(stages))]},
        "link": {"source": source, "target": target, "value": value,
                 "color": [colours[s] + "66" for s in source]},
    }], "layout": {**charts.layout(height=340), "margin": {"l": 8, "r": 8, "t": 8, "b": 8}}}
    description = f"Customers moving between stages from {start} to {end}: " + "; ".join(words)
    table = charts.DataTable(columns=[f"stage on {start}", f"stage on {end}", "customers"],
                             rows=rows)
    return charts.make_chart("stage-sankey", f"Moves from {start} to {end}", description,
                             figure, table=table)


def _names(session: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Customer.id, Customer.first_name, Customer.last_name)
                           .where(Customer.id.in_(ids))).all()
    return {r.id: " ".join(p for p in (r.first_name, r.last_name) if p) or f"#{r.id}"
            for r in rows}


def _evidence(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            loaded = json.loads(value)
        except ValueError:
            return {"note": value}
        return loaded if isinstance(loaded, dict) else {"value": loaded}
    return value if isinstance(value, dict) else {}


def load(*, session: Session, model: StageModel, start: date | None = None,
         end: date | None = None) -> StageFlows | None:
    """The page's data, or None when the model has no refresh yet."""
    table = reports.distribution(session=session, model=model)
    if table.empty:
        return None
    dates = sorted(table.index)
    start, end = _pick(dates, start, end)
    stages = [str(c) for c in table.columns]
    distribution = charts.bar_chart(
        "stage-distribution", "Customers per stage at each refresh",
        categories=[d.isoformat() for d in dates],
        series={s: [int(v) for v in table[s]] for s in stages},
        y_title="customers", stacked=True, row_label="refresh")
    counts, rates = reports.transitions(session=session, model=model, start=start, end=end)
    matrix = [MatrixRow(stage=str(stage), total=int(counts.loc[stage].sum()),
                        cells=[(int(counts.loc[stage, to]), float(rates.loc[stage, to]))
                               for to in counts.columns])
              for stage in counts.index]
    steps = reports.conversion_funnel(session=session, model=model, end=end)
    funnel = [FunnelStep(stage=str(r["stage"]), reached=int(r["reached"]),
                         conversion_to_next=None if r["conversion_to_next"] is None
                         or r["conversion_to_next"] != r["conversion_to_next"]
                         else float(r["conversion_to_next"]))
              for r in steps.to_dict("records")]
    down_all = reports.moved_down(session=session, model=model.name)
    down = down_all.head(MOVED_DOWN_SHOWN)
    ids = [int(i) for i in down["customer_id"]]
    names = _names(session, ids)
    moves = [DownMove(customer_id=int(r["customer_id"]),
                      name=names.get(int(r["customer_id"]), f"#{r['customer_id']}"),
                      from_stage=str(r["from_stage"]), to_stage=str(r["to_stage"]),
                      evidence=_evidence(r["evidence"]))
             for r in down.to_dict("records")]
    return StageFlows(
        model=model.name, dates=dates, start=start, end=end,
        stages=[str(c) for c in counts.columns], distribution=distribution, matrix=matrix,
        sankey=sankey_chart(matrix, [str(c) for c in counts.columns], start, end)
        if start != end else None,
        funnel=funnel, moved_down=moves, moved_down_total=len(down_all),
        latest=reports.latest_run_as_of(session=session),
        prospects=reports.prospects_in_lowest_stage(session=session, model=model))
