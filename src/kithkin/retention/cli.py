"""`kithkin retention`: the report, exit interviews, complaints and the classifier."""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kithkin.config import get_settings
from kithkin.database.core import session_scope
from kithkin.errors import KithkinError
from kithkin.retention import complaints, survival
from kithkin.retention import service as retention_service
from kithkin.retention.classifier import evaluate

app = typer.Typer(help="Retention: report, exit interviews, complaints, classifier.",
                  no_args_is_help=True)
interviews_app = typer.Typer(help="Exit interviews.", no_args_is_help=True)
complaints_app = typer.Typer(help="Complaint lifecycle.", no_args_is_help=True)
app.add_typer(interviews_app, name="interviews")
app.add_typer(complaints_app, name="complaints")
console = Console()
err = Console(stderr=True)


def _fail(error: Exception) -> typer.Exit:
    err.print(f"[red]error:[/red] {html.escape(str(error))}", markup=True, highlight=False)
    return typer.Exit(1)


def _as_of(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise KithkinError(f"--as-of: {value!r} is not a date (YYYY-MM-DD)") from None


def report_html(*, as_of: date | None, lapse_days: int) -> str:
    """The Retention page as one self-contained file: plotly.js inline, no CDN."""
    from plotly.offline import get_plotlyjs

    from kithkin.dashboard import retention_view
    from kithkin.dashboard.web import templates

    settings = get_settings()
    with session_scope() as session:
        view = retention_view.build(session=session, settings=settings, as_of=as_of,
                                    lapse_days=lapse_days)
    page = templates.env.get_template("retention_report.html")
    return page.render(view=view, plotly_js=get_plotlyjs())


@app.command("report")
def report(out: Annotated[Path, typer.Option("--out", help="HTML file to write.")],
           as_of: Annotated[str | None, typer.Option(
               help="As-of date (YYYY-MM-DD); default: the latest refresh.")] = None,
           lapse_days: Annotated[int, typer.Option(
               min=1, help="Days without a purchase after which a customer has lapsed.")
           ] = survival.DEFAULT_LAPSE_DAYS) -> None:
    """Write the retention report (survival, cohorts, complaints, reasons) as one HTML file."""
    try:
        text = report_html(as_of=_as_of(as_of), lapse_days=lapse_days)
    except (KithkinError, ValueError) as error:
        raise _fail(error) from error
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out} ({len(text) / 1e6:.1f} MB)")


@interviews_app.command("add")
def add_interview(customer_id: int, text: Annotated[str, typer.Argument(
                      help="The customer's words.")],
                  reason: Annotated[str | None, typer.Option(help="Reason category.")] = None,
                  defector_type: Annotated[str | None, typer.Option(
                      "--type", help="Defector type.")] = None) -> None:
    """Record an exit interview; prints the classifier's suggestion."""
    try:
        with session_scope() as session:
            row = retention_service.record(
                session=session, customer_id=customer_id, text_=text, occurred_at=None,
                reason_category=reason, defector_type=defector_type, created_by_id=None,
                source="cli")
            console.print(f"exit interview {row.id}: suggested type "
                          f"{row.suggested_type or 'none'}, reason "
                          f"{row.suggested_category or 'none'} ({row.suggested_by})")
    except KithkinError as error:
        raise _fail(error) from error


@interviews_app.command("import")
def import_interviews(path: Path) -> None:
    """Import exit interviews from CSV (customer_id, text[, occurred_at, reason_category,
    defector_type, external_id, channel]); re-running skips rows already stored."""
    try:
        with session_scope() as session:
            added = retention_service.import_csv(session=session, path=path)
    except (KithkinError, OSError) as error:
        raise _fail(error) from error
    console.print(f"imported {added} exit interviews")


@interviews_app.command("sync")
def sync_interviews() -> None:
    """Give exit interviews already in the interaction log (imports) a suggestion."""
    with session_scope() as session:
        added = retention_service.sync(session=session)
    console.print(f"{added} exit interviews added for review")


@interviews_app.command("evaluate")
def evaluate_classifier(test_share: Annotated[float, typer.Option(min=0.05, max=0.9)] = 0.3
                        ) -> None:
    """Held-out accuracy per defector type of the classifier on staff labels."""
    with session_scope() as session:
        examples = retention_service.labelled(session)
    if not examples:
        raise _fail(KithkinError("no classified exit interviews to evaluate on"))
    result = evaluate(examples, test_share=test_share)
    def pct(value: float | None) -> str:
        return "–" if value is None else f"{value:.1%}"

    table = Table("type", "held out", "naive Bayes", "rules", f"chosen ({result.method})")
    for kind, value in result.per_type.items():
        table.add_row(kind, str(result.per_type_n[kind]), pct(result.model_per_type[kind]),
                      pct(result.rules_per_type[kind]), pct(value))
    table.add_row("all", str(result.test_size), pct(result.model_overall),
                  pct(result.rules_overall), pct(result.overall))
    console.print(table)


def _complaint_move(action: str, complaint_id: int) -> None:
    try:
        with session_scope() as session:
            row = (complaints.respond if action == "respond" else complaints.resolve)(
                session=session, complaint_id=complaint_id)
            console.print(f"complaint {row.id}: {complaints.lifecycle_state(row)}")
    except KithkinError as error:
        raise _fail(error) from error


@complaints_app.command("respond")
def respond(complaint_id: int) -> None:
    """Record the first response to a complaint (now)."""
    _complaint_move("respond", complaint_id)


@complaints_app.command("resolve")
def resolve(complaint_id: int) -> None:
    """Mark a complaint resolved (now)."""
    _complaint_move("resolve", complaint_id)
