"""``kithkin refresh``: recompute and store every customer's metrics as of a date."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from kithkin.analytics import refresh as refresh_service
from kithkin.analytics.fitting import ModelOptions
from kithkin.atrisk.selection import LABELS
from kithkin.cli import output
from kithkin.config import get_settings
from kithkin.errors import KithkinError
from kithkin.relationships import cli as relationship_cli

console = Console()


def _parse_day(value: str | None) -> date:
    if value is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def refresh(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Date the metrics are computed as of (YYYY-MM-DD); default today "
        "(UTC). Events after it are ignored.")] = None,
    discount_rate: Annotated[float, typer.Option(
        min=0.0, help="Annual discount rate of CLV.")] = 0.10,
    margin: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, help="Margin ratio of CLV; default: the data's own ratio.")] = None,
    horizon_days: Annotated[float, typer.Option(
        min=1.0, help="CLV horizon in days (365 = 12 months).")] = 365.0,
    holdout_days: Annotated[int, typer.Option(
        min=0, help="Choose and check the purchase model on the last N days before the "
        "as-of (fitted without them), and train the at-risk score on them; 0: none.")] = 90,
    purchase_model: Annotated[str, typer.Option(
        help="P(alive) model: auto (the holdout's choice), bg_nbd, mbg_nbd or "
             "pareto_nbd.")] = "auto",
) -> None:
    """Snapshot the store, compute summaries, features and CLV, store them per customer."""
    day = _parse_day(as_of)
    settings = get_settings()
    options = ModelOptions(horizon_days=horizon_days, discount_rate_annual=discount_rate,
                           margin=margin, holdout_days=holdout_days,
                           purchase_model=purchase_model)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console) as progress:
        tasks: dict[str, TaskID] = {}

        def on_step(name: str) -> None:
            for previous in tasks.values():
                progress.update(previous, completed=1, total=1)
            tasks[name] = progress.add_task(name, total=None)

        try:
            result = refresh_service.run(settings=settings, as_of=day, options=options,
                                         on_step=on_step)
        except KithkinError as exc:
            console.print(f"[red]refresh failed:[/] {exc}")
            raise typer.Exit(1) from exc
        for task in tasks.values():
            progress.update(task, completed=1, total=1)

    timings = [[name, f"{seconds:.2f}"] for name, seconds in result.timings.items()]
    timings.append(["total (steps overlap)", f"{result.seconds:.2f}"])
    output.print_table(output.build_table(
        ["step", "seconds"], timings, title=f"refresh as of {day} on {result.engine}",
        numeric=[False, True]), console=console)
    for part in result.snapshot:
        console.print(f"snapshot {part.name}: {part.mode}, {part.rows_copied:,} rows copied, "
                      f"{part.total_rows:,} in total")
    console.print(f"stored metrics of [bold]{result.customers:,}[/] customers")
    for line in fit_report(result.model_params):
        console.print(line)
    if result.defection.get("exit_interview_tasks"):
        console.print(f"exit-interview tasks opened: {result.defection['exit_interview_tasks']:,}")
    if result.relationships is not None:
        moves = ", ".join(f"{m.model}: {m.moved_up:,} up, {m.moved_down:,} down"
                          for m in result.relationships.models)
        console.print(f"stages, health and bonds of {result.relationships.customers:,} "
                      f"customers ({moves})")
        for model_summary in result.relationships.models:
            counts = ", ".join(f"{stage} {n:,}"
                               for stage, n in model_summary.distribution.items())
            console.print(f"  {model_summary.model}: {counts}")
        for line in relationship_cli.evidence_lines(result.relationships.evidence):
            console.print(line)
    if result.playbooks is not None:
        totals = result.playbooks.totals
        console.print(f"playbooks: {totals['new']:,} trigger occurrences acted on "
                      f"({totals['holdout']:,} held out): {totals['tasks']:,} tasks, "
                      f"{totals['messages']:,} messages, {totals['skipped']:,} skipped "
                      "(kithkin playbooks report)")
    if result.playbooks_error:
        console.print(f"[yellow]playbooks did not run:[/] {result.playbooks_error}")
    if result.model_error:
        console.print(f"[yellow]models not fitted:[/] {result.model_error}; the other "
                      "metrics were stored, model columns are empty")


def _number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


FITTED = (("bg_nbd", "BG/NBD (purchases)"), ("mbg_nbd", "MBG/NBD (purchases)"),
          ("pareto_nbd", "Pareto/NBD (purchases)"), ("gamma_gamma", "Gamma-Gamma (spend)"))


def fit_report(params: dict[str, Any]) -> list[str | Table]:
    """The fitted models' parameters and fit, and the holdout check, as printed by
    ``kithkin refresh`` (the same figures are in the run record and on the dashboard)."""
    lines: list[str | Table] = []
    margin = params.get("margin")
    if isinstance(margin, float):
        source = params.get("margin_source", "option")
        if source == "assumed":
            lines.append(f"CLV margin: unknown (no cost in the data), assumed {margin:.0%} "
                         "(set KITHKIN_DEFAULT_MARGIN to your own)")
        else:
            note = "the data's own margin ratio" if source == "data" else "--margin"
            lines.append(f"CLV margin: {margin:.1%} ({note})")
    choice = params.get("model_choice")
    if isinstance(choice, dict) and choice.get("candidates"):
        table = Table("purchase model", "holdout AUC of P(alive)", "mean abs. error",
                      "mean P(alive), one-time buyers",
                      title=f"P(alive) model: {choice.get('label')} ({choice.get('chosen_by')})")
        for name, record in choice["candidates"].items():
            label = LABELS.get(name, name) + (" (chosen)" if name == choice.get("chosen") else "")
            if record.get("error"):
                table.add_row(label, f"[yellow]not fitted:[/] {record['error']}", "", "")
                continue
            table.add_row(label, _number(record.get("auc")),
                          _number(record.get("mean_absolute_error")),
                          _number(record.get("p_alive_one_time_buyers")))
        lines.append(table)
    elif isinstance(choice, dict):
        lines.append(f"P(alive) model: {choice.get('label')} ({choice.get('chosen_by')})")
    at_risk = params.get("at_risk")
    if isinstance(at_risk, dict):
        if at_risk.get("error"):
            lines.append(f"[yellow]at-risk score: not computed:[/] {at_risk['error']}")
        else:
            lines.append(f"at-risk score: trained on {at_risk['training_customers']:,} "
                         f"customers (no purchase in {at_risk['horizon_days']:g} days: "
                         f"{at_risk['training_base_rate']:.0%}), mean score "
                         f"{at_risk['mean_score']:.0%}")
    defection = params.get("defection")
    if isinstance(defection, dict):
        stages = (", ".join(f"{k} {v:,}" for k, v in sorted(defection["stages"].items()))
                  or "no customer with purchases yet")
        lines.append(f"defection stages: {stages}; {defection['changes']:,} changes "
                     "(kithkin at-risk list)")
    for key, title in FITTED:
        fitted = params.get(key)
        if not isinstance(fitted, dict):
            continue
        table = Table("parameter", "value", "std. error", title=title)
        errors = fitted.get("standard_errors") or {}
        for name, value in (fitted.get("params") or {}).items():
            table.add_row(name, _number(value), _number(errors.get(name)))
        table.caption = (f"log-likelihood {_number(fitted.get('log_likelihood'))}, "
                         f"{fitted.get('n_customers')} customers")
        lines.append(table)
    check = params.get("holdout")
    if isinstance(check, dict):
        head = (f"holdout check: fitted up to {check['calibration_end']}, predicting the "
                f"next {check['days']} days for {check['customers']:,} customers")
        if check.get("error"):
            lines.append(f"[yellow]{head}: not made:[/] {check['error']}")
        else:
            table = Table("calibration frequency", "customers", "actual", "predicted",
                          title=head)
            for row in check["by_frequency"]:
                table.add_row(row["frequency"], f"{row['customers']:,}",
                              f"{row['actual_mean']:.3f}", f"{row['predicted_mean']:.3f}")
            table.add_row("[bold]all", f"[bold]{check['customers']:,}",
                          f"[bold]{check['actual_mean']:.3f}",
                          f"[bold]{check['predicted_mean']:.3f}")
            table.caption = ("mean purchases per customer in the holdout; mean absolute "
                             f"error {check['mean_absolute_error']:.3f} per customer")
            lines.append(table)
    return lines


def register(app: typer.Typer) -> None:
    app.command(name="refresh")(refresh)
