"""`kithkin stages ...`, `kithkin levels ...` and `kithkin explain ID`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from kithkin.cli import output
from kithkin.cli.output import FormatOption, LimitOption, OutputFormat
from kithkin.config import get_settings
from kithkin.customers.cli import CustomerArg, resolve_or_exit, title
from kithkin.database.core import session_scope
from kithkin.errors import KithkinError, NotFoundError
from kithkin.relationships import presets, reports, service
from kithkin.relationships.definitions import StageModel, load_model_file
from kithkin.relationships.health import CHARACTERISTICS
from kithkin.relationships.levels import margin_text
from kithkin.relationships.schemas import CustomerExplanation, DataEvidence, HealthScorecard
from kithkin.relationships.workspace import (
    available_models,
    get_model,
    install_model,
    load_config,
)

stages_app = typer.Typer(help="Relationship stage models, assignment and history reports.",
                         no_args_is_help=True)
report_app = typer.Typer(help="Reports over the stage history.", no_args_is_help=True)
levels_app = typer.Typer(help="Recommended relationship level per segment (Kotler).",
                         no_args_is_help=True)
stages_app.add_typer(report_app, name="report")
console = Console()

ModelArg = Annotated[str, typer.Argument(help="Stage model name, e.g. journey.")]


def _fail(exc: KithkinError) -> typer.Exit:
    console.print(f"[red]error:[/] {exc}")
    return typer.Exit(code=1)


def _print_frame(frame: pd.DataFrame, title: str, *, output_format: OutputFormat,
                 limit: int | None, index: bool = False) -> None:
    output.emit_frame(frame, title=title, output=output_format, limit=limit, index=index,
                      console=console)


def _home() -> Path:
    return get_settings().home


def _definition(name: str) -> StageModel:
    """The stage model ``name`` of this workspace; a clear error when there is none."""
    try:
        return get_model(name, home=_home())
    except KithkinError as exc:
        raise _fail(exc) from exc


@stages_app.command("list")
def list_models(output_format: FormatOption = OutputFormat.TABLE,
                limit: LimitOption = None) -> None:
    """List the available stage models and which are active."""
    try:
        active = set(load_config(home=_home()).active_models)
        models = available_models(home=_home())
    except KithkinError as exc:
        raise _fail(exc) from exc
    rows = [[m.name, m.name in active, " < ".join(m.stage_names), m.source, str(m.path)]
            for m in models.values()]
    output.emit(["name", "active", "stages", "source", "file"], rows, title="Stage models",
                output=output_format, limit=limit, console=console)


@stages_app.command("show")
def show_model(model: ModelArg, preset: Annotated[str | None, typer.Option(
        help="Show the preset of this name instead (transaction_only).")] = None) -> None:
    """Show a model's stages: goal, the metric it is judged by, and the entry rule."""
    try:
        found = get_model(model, home=_home())
        if preset is not None:
            chosen = presets.load_preset(model, preset)
            if chosen is None:
                raise NotFoundError(f"no {preset!r} preset of model {model!r}")
            found = chosen
        with session_scope() as session:
            used = reports.presets_used(session=session).get(model)
    except KithkinError as exc:
        raise _fail(exc) from exc
    if used and preset is None:
        console.print(f"[yellow]the latest refresh assigned {model} with its {used} preset "
                      f"(the data lacks the evidence these rules read): kithkin stages show "
                      f"{model} --preset {used}[/]")
    console.print(f"[bold]{found.title}[/] ({found.name}) - {found.source}\n"
                  f"{found.description}\nassignment: the highest stage whose rule matches")
    table = Table()
    for column in ("rank", "stage", "goal", "goal metric", "rule"):
        table.add_column(column)
    for stage in found.stages:
        table.add_row(str(stage.rank), stage.name, stage.goal, stage.goal_metric,
                      " ".join(stage.rule.text.split()))
    console.print(table)


@stages_app.command("validate")
def validate(file: Annotated[Path, typer.Argument(help="A stage model TOML file.")]) -> None:
    """Check a stage model file; errors name the line and the problem."""
    try:
        model = load_model_file(file)
    except KithkinError as exc:
        raise _fail(exc) from exc
    console.print(f"[green]ok[/] {model.name}: {' < '.join(model.stage_names)}")


@stages_app.command("install")
def install(file: Annotated[Path, typer.Argument(help="A stage model TOML file.")]) -> None:
    """Validate a model file and copy it into the workspace (replaces a same-named model).
    Activate it by listing its name in active_models of relationships.toml."""
    try:
        model = install_model(file, home=_home())
    except KithkinError as exc:
        raise _fail(exc) from exc
    console.print(f"[green]installed[/] {model.name}")


@stages_app.command("refresh")
def refresh(as_of: Annotated[str | None, typer.Option(
        help="As-of date (YYYY-MM-DD); default: the latest stored metrics.")] = None) -> None:
    """Assess every customer from the stored metrics (normally run by `kithkin refresh`)."""
    from kithkin.relationships import inputs

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console) as progress:
        progress.add_task("assessing relationships", total=None)
        try:
            with session_scope() as session:
                when = (date.fromisoformat(as_of) if as_of
                        else inputs.latest_metrics_as_of(session=session))
                report = service.refresh(session=session, settings=get_settings(), as_of=when)
        except KithkinError as exc:
            raise _fail(exc) from exc
    for summary in report.models:
        console.print(f"[bold]{summary.model}[/]: {summary.distribution}  new "
                      f"{summary.new}, up {summary.moved_up}, down {summary.moved_down}")
    console.print(f"value tiers {report.value_tiers}; {report.segments} segments; "
                  f"timings {report.timings}")
    for line in evidence_lines(report.evidence):
        console.print(line)


def evidence_lines(evidence: DataEvidence | None) -> list[str]:
    """What the data could show and the presets chosen for it, for refresh output."""
    if evidence is None:
        return []
    lines = [f"evidence: the data {evidence.summary}"]
    lines += [f"[bold]{model}[/]: {preset.replace('_', '-')} preset chosen automatically "
              "(rules on orders and RFM only; docs/relationships.md, \"Presets\")"
              for model, preset in evidence.presets.items()]
    if not evidence.signals.get("costs", True):
        lines.append(f"margins: unknown (no cost in the data); value tiers and segment "
                     f"levels assume {evidence.default_margin:.0%} (KITHKIN_DEFAULT_MARGIN)")
    elif evidence.assumed_margin is not None:
        lines.append(f"margins: measured where the data has costs; elsewhere assumed at the "
                     f"data's own ratio, {evidence.assumed_margin:.1%} (as CLV)")
    return lines


@report_app.command("distribution")
def report_distribution(model: ModelArg, output_format: FormatOption = OutputFormat.TABLE,
                        limit: LimitOption = None) -> None:
    """Customers per stage at every refresh."""
    with session_scope() as session:
        frame = reports.distribution(session=session, model=_definition(model))
        prospects = reports.prospects_in_lowest_stage(session=session,
                                                      model=_definition(model))
    _print_frame(frame, f"{model}: customers per stage", index=True,
                 output_format=output_format, limit=limit)
    if output_format is OutputFormat.TABLE:
        _print_prospects_note(model, prospects)


def _print_prospects_note(model: str, prospects: int) -> None:
    """One stranger count, with its two parts: the per-customer reports hold customers
    only, the distribution also counts open prospects (never transacted either)."""
    if prospects:
        lowest = _definition(model).stages[0].name
        console.print(f"{lowest}: never transacted; at the latest refresh {prospects:,} "
                      "open prospects (no customer record) count in it besides customers. "
                      "Transitions, time in stage and the funnel follow customers only.")


@report_app.command("transitions")
def report_transitions(
    model: ModelArg,
    start: Annotated[str, typer.Option(help="Period start (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option(help="Period end (YYYY-MM-DD).")],
    output_format: FormatOption = OutputFormat.TABLE,
    limit: LimitOption = None,
    rates: Annotated[bool, typer.Option(
        "--rates", help="Row rates instead of counts (CSV and JSON print one matrix).")
    ] = False,
) -> None:
    """Transition matrix (counts, then row rates) between two dates."""
    with session_scope() as session:
        counts, row_rates = reports.transitions(session=session, model=_definition(model),
                                                start=date.fromisoformat(start),
                                                end=date.fromisoformat(end))
    if output_format is not OutputFormat.TABLE:
        _print_frame(row_rates if rates else counts, "transitions", index=True,
                     output_format=output_format, limit=limit)
        return
    if not rates:
        _print_frame(counts, f"{model}: transitions {start} -> {end} (customers)", index=True,
                     output_format=output_format, limit=limit)
    _print_frame(row_rates, "row rates", index=True, output_format=output_format, limit=limit)


@report_app.command("time")
def report_time(model: ModelArg, output_format: FormatOption = OutputFormat.TABLE,
                limit: LimitOption = None) -> None:
    """Time spent in each stage (completed and ongoing spells)."""
    with session_scope() as session:
        frame = reports.stage_durations(session=session, model=_definition(model))
    _print_frame(frame, f"{model}: time in stage (days)", output_format=output_format,
                 limit=limit)


@report_app.command("funnel")
def report_funnel(model: ModelArg, end: Annotated[str | None, typer.Option(
        help="Up to this date (YYYY-MM-DD).")] = None,
        output_format: FormatOption = OutputFormat.TABLE, limit: LimitOption = None) -> None:
    """How many customers ever reached each stage, and conversion to the next one."""
    with session_scope() as session:
        frame = reports.conversion_funnel(
            session=session, model=_definition(model),
            end=date.fromisoformat(end) if end else None)
    _print_frame(frame, f"{model}: funnel", output_format=output_format, limit=limit)


@report_app.command("down")
def report_down(model: Annotated[str | None, typer.Argument(help="Model (default all).")]
                = None, output_format: FormatOption = OutputFormat.TABLE,
                limit: LimitOption = None) -> None:
    """Customers who moved down at the latest refresh; CSV and JSON add the evidence (the
    rules and metric values). A table shows the first rows, CSV and JSON all of them."""
    with session_scope() as session:
        frame = reports.moved_down(session=session, model=model)
    if output_format is OutputFormat.TABLE:  # the evidence is for programs, not a table
        frame = frame.drop(columns=["evidence"])
    elif output_format is OutputFormat.JSON:  # nested, not JSON text inside JSON
        frame["evidence"] = frame["evidence"].map(json.loads)
    _print_frame(frame, "moved down since the last refresh", output_format=output_format,
                 limit=limit)
    if output_format is OutputFormat.TABLE and not frame.empty:
        console.print("why: kithkin customers explain ID, or --format json for the evidence")


@levels_app.command("list")
def list_levels(kind: Annotated[str | None, typer.Option(
        help="Segment kind: stage:journey, rfm_segment, value_tier, needs_segment, "
             "rule:NAME.")] = None,
        output_format: FormatOption = OutputFormat.TABLE, limit: LimitOption = None) -> None:
    """Segments with size, margin, recommended level and any override."""
    with session_scope() as session:
        levels = service.list_segment_levels(session=session, kind=kind)
    table = output_format is OutputFormat.TABLE
    rows: list[list[object]] = []
    assumed = 0
    for row in levels:
        margin_known = row.margin_known_share is None or row.margin_known_share >= 0.9999
        assumed += not margin_known
        rows.append([
            row.kind, row.segment, row.customers,
            margin_text(row.margin_rate, row.margin_known_share) if table else row.margin_rate,
            row.margin_known_share,
            f"{row.size_class}/{row.margin_class}" + ("" if margin_known else " (assumed)"),
            row.recommended_level,
            f"{row.override_level} ({row.override_by})" if row.override_level else None,
            row.level])
    output.emit(["kind", "segment", "customers", "margin rate", "margin known share", "class",
                 "recommended", "override", "level"], rows,
                title="Relationship level per segment", output=output_format, limit=limit,
                console=console)
    if assumed and table:
        console.print(f"[yellow]{assumed} of {len(rows)} segments lack margin data[/] (no "
                      "cost for some or all of their revenue): their margin class rests on "
                      "an assumed margin (the data's own ratio where some costs are known, "
                      "else KITHKIN_DEFAULT_MARGIN).")


@levels_app.command("override")
def override_level(
    kind: Annotated[str, typer.Argument(help="Segment kind, e.g. value_tier.")],
    segment: Annotated[str, typer.Argument(help="Segment name, e.g. most_valuable.")],
    level: Annotated[str, typer.Argument(
        help="basic, reactive, accountable, proactive or partnership.")],
    by: Annotated[str, typer.Option(help="Who decides (kept with the override).")],
    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
) -> None:
    """Set the level of a segment by hand; it wins and is kept across refreshes."""
    try:
        with session_scope() as session:
            row = service.set_level_override(session=session, kind=kind, segment=segment,
                                             level=level, by=by, reason=reason)
            console.print(f"{row.kind} {row.segment}: level {row.level} "
                          f"(recommended {row.recommended_level})")
    except KithkinError as exc:
        raise _fail(exc) from exc


@levels_app.command("clear")
def clear_override(kind: Annotated[str, typer.Argument()],
                   segment: Annotated[str, typer.Argument()]) -> None:
    """Remove an override: the recommendation applies again."""
    try:
        with session_scope() as session:
            row = service.clear_level_override(session=session, kind=kind, segment=segment)
            console.print(f"{row.kind} {row.segment}: level {row.level}")
    except KithkinError as exc:
        raise _fail(exc) from exc


def explain(customer: CustomerArg,
            as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
            ) -> None:
    """Why a customer is in each stage: rule, metric values, moves, health and bonds."""
    try:
        with session_scope() as session:
            found = resolve_or_exit(session, customer)
            heading = title(found, list(found.identifiers))
            explanation = service.explain(session=session, settings=get_settings(),
                                          customer_id=found.id)
    except KithkinError as exc:
        raise _fail(exc) from exc
    if as_json:
        console.print_json(explanation.model_dump_json())
        return
    print_explanation(explanation, heading=heading)


def health_text(card: HealthScorecard) -> str:
    """Scores, "unknown" where the data cannot show a characteristic, and how many of
    the seven the overall score averages."""
    def score(value: float | None) -> str:
        return "unknown" if value is None else f"{value:.0f}"

    parts = [f"{name} {score(getattr(card, name))}" for name in CHARACTERISTICS]
    known = f" ({card.known} of {len(CHARACTERISTICS)} known)" if card.known is not None else ""
    return ", ".join(parts) + f"; overall {score(card.overall)}{known}"


def print_explanation(found: CustomerExplanation, *, heading: str | None = None) -> None:
    """``heading`` names the customer ("customer 2: Ada Lovelace"); default its id."""
    console.print(f"[bold]{escape(heading or f'customer {found.customer_id}')}[/] "
                  f"as of {found.as_of}")
    for stage in found.stages:
        evidence = stage.evidence
        console.print(f"  [bold]{stage.model}[/]: {stage.stage} since {stage.since} "
                      f"(goal: {stage.goal}, judged by {stage.goal_metric})\n"
                      f"    rule: {evidence.get('rule')}\n"
                      f"    values: {json.dumps(evidence.get('values'))}")
    for change in found.history:
        console.print(f"  {change.as_of} {change.model}: {change.from_stage or '-'} -> "
                      f"{change.to_stage} ({change.direction})")
    if found.health:
        console.print("  health: " + health_text(found.health))
    if found.bonds:
        bonds = found.bonds.model_dump(exclude={"evidence"})
        console.print("  bonds: " + ", ".join(f"{k} {v:.0f}" for k, v in bonds.items()))
    assumed = (found.health is not None and found.health.evidence.get("margin") is None
               and found.net_margin is not None)
    net = f"{found.net_margin}{' from the assumed margin' if assumed else ''}"
    console.print(f"  value tier: {found.value_tier} (net margin {net}, "
                  f"potential {found.potential}); needs segment: {found.needs_segment}")


def register(app: typer.Typer) -> None:
    """Add the relationship commands to the main `kithkin` app: `explain` goes under the
    `customers` group when one is registered already, else it is `kithkin explain`."""
    app.add_typer(stages_app, name="stages")
    app.add_typer(levels_app, name="levels")
    customers = next((group.typer_instance for group in app.registered_groups
                      if group.name == "customers" and group.typer_instance), None)
    (customers or app).command("explain")(explain)
