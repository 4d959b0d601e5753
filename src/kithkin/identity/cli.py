"""`kithkin identify` and `kithkin duplicates ...`: resolution, review, merge and undo."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from kithkin.cli import output
from kithkin.cli.output import FormatOption, OutputFormat
from kithkin.config import get_settings
from kithkin.customers.cli import resolve_or_exit
from kithkin.database.core import session_scope
from kithkin.errors import KithkinError
from kithkin.identity import service as identity_service
from kithkin.identity.models import CandidateStatus

duplicates_app = typer.Typer(help="Review, merge, reject and undo duplicate customers.",
                             no_args_is_help=True)
console = Console()


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _fail(exc: KithkinError) -> typer.Exit:
    console.print(f"[red]error:[/] {exc}")
    return typer.Exit(code=1)


def identify(
    threshold_merge: Annotated[float | None, typer.Option(
        help="Merge pairs at or above this probability (default: settings, 0.99).")] = None,
    threshold_review: Annotated[float | None, typer.Option(
        help="Queue pairs at or above this probability for review (default 0.8).")] = None,
    retrain: Annotated[bool, typer.Option(
        help="Re-estimate the model instead of reusing the saved one.")] = False,
    auto_merge: Annotated[bool | None, typer.Option(
        "--auto-merge/--no-auto-merge", help="Merge sure pairs now (default: settings).",
    )] = None,
) -> None:
    """Find duplicate customers with Splink; merge the sure ones, queue the likely ones."""
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console, transient=True) as progress, session_scope() as session:
            task = progress.add_task("identify", total=None)
            run = identity_service.identify(
                session=session, settings=get_settings(), threshold_merge=threshold_merge,
                threshold_review=threshold_review, retrain=retrain, auto_merge=auto_merge,
                actor=_actor(), step=lambda text: progress.update(task, description=text),
            )
            report = dict(run.report or {})
            summary = (run.id, run.records, run.candidates, run.auto_merged)
    except KithkinError as exc:
        raise _fail(exc) from exc
    console.print(f"run [bold]{summary[0]}[/]: {summary[1]} customers, {summary[2]} candidate "
                  f"pairs, {summary[3]} merged automatically")
    problems = [[name.replace("_", " "), count]
                 for name, count in sorted(report.pop("fields", {}).items())]
    output.print_table(output.build_table(["field problem (not counted as evidence)",
                                           "records"], problems), console=console)
    for note in report.pop("notes", []):
        console.print(f"[yellow]note:[/] {note}")
    console.print(", ".join(f"{k}: {v}" for k, v in report.items()))


@duplicates_app.command("list")
def list_duplicates(
    status: Annotated[CandidateStatus, typer.Option(help="Which pairs.")] = (
        CandidateStatus.PENDING),
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Pairs per page.")] = 50,
    after: Annotated[str | None, typer.Option(help="Cursor printed by the last page.")] = None,
    output_format: FormatOption = OutputFormat.TABLE,
) -> None:
    """List candidate pairs (most recent run), one page at a time."""
    with session_scope() as session:
        page, cursor = identity_service.list_page(session=session, limit=limit, after=after,
                                                  status=status)
        rows = [[row.id, row.customer_id_l, row.customer_id_r, row.match_probability,
                 row.match_weight, row.status] for row in page]
    if output_format is OutputFormat.TABLE:
        rows = [[*r[:3], f"{r[3]:.4f}", f"{r[4]:.1f}", r[5]] for r in rows]
    output.emit(["pair", "customer id", "other id", "probability", "weight", "status"], rows,
                title=f"{status} duplicate pairs", output=output_format, limit=0,
                console=console)
    if cursor:
        # Off the data stream, so CSV and JSON stay parseable.
        Console(stderr=True).print(f"next page: --after {cursor}")


@duplicates_app.command("show")
def show_duplicate(pair_id: int) -> None:
    """Show a pair side by side with each field's agreement level and weight."""
    try:
        with session_scope() as session:
            candidate = identity_service.get_candidate(session=session, candidate_id=pair_id)
            fields = identity_service.compare_fields(session=session, candidate=candidate)
            title = (f"pair {pair_id}: customers {candidate.customer_id_l} and "
                     f"{candidate.customer_id_r}, probability {candidate.match_probability:.4f}"
                     f" ({candidate.status})")
    except KithkinError as exc:
        raise _fail(exc) from exc
    table = Table("field", "left", "right", "level", "weight", title=title)
    for f in fields:
        table.add_row(f["field"], str(f["left"] or ""), str(f["right"] or ""),
                      f["level"] or "", "" if f["weight"] is None else f"{f['weight']:+.2f}")
    console.print(table)


@duplicates_app.command("merge")
def merge(
    survivor: Annotated[str, typer.Argument(
        help="Customer that survives (keeps its id): id, ext:SOURCE:ID, email or name.")],
    merged: Annotated[str, typer.Argument(help="Customer merged into the survivor.")],
    reason: Annotated[str | None, typer.Option(help="Why, for the merge log.")] = None,
) -> None:
    """Merge customer B into customer A (undo with `kithkin duplicates undo`)."""
    try:
        with session_scope() as session:
            survivor_id = resolve_or_exit(session, survivor).id
            merged_id = resolve_or_exit(session, merged).id
            entry = identity_service.merge(session=session, settings=get_settings(),
                                           survivor_id=survivor_id, merged_id=merged_id,
                                           actor=_actor(), reason=reason)
            merge_id, rows = entry.id, len(entry.changes)
    except KithkinError as exc:
        raise _fail(exc) from exc
    console.print(f"merge [bold]{merge_id}[/]: customer {merged_id} merged into {survivor_id} "
                  f"({rows} rows changed)")


@duplicates_app.command("undo")
def undo(merge_id: int) -> None:
    """Undo a merge: both customers and everything each owned come back as they were."""
    try:
        with session_scope() as session:
            entry = identity_service.undo_merge(session=session, merge_id=merge_id,
                                                actor=_actor())
            survivor, merged = entry.survivor_id, entry.merged_id
    except KithkinError as exc:
        raise _fail(exc) from exc
    console.print(f"merge {merge_id} undone: customers {survivor} and {merged} are separate")


@duplicates_app.command("reject")
def reject(pair_id: int) -> None:
    """Mark a pair as two different customers; later runs will not propose it again."""
    try:
        with session_scope() as session:
            identity_service.reject(session=session, candidate_id=pair_id, actor=_actor())
    except KithkinError as exc:
        raise _fail(exc) from exc
    console.print(f"pair {pair_id} rejected")


def register(app: typer.Typer) -> None:
    app.command("identify")(identify)
    app.add_typer(duplicates_app, name="duplicates")
