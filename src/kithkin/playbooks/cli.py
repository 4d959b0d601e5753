"""`kithkin playbooks list/show/validate/install/dry-run/run/report/held-back/level`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kithkin.cli import output
from kithkin.cli.output import FormatOption, LimitOption, OutputFormat
from kithkin.config import get_settings
from kithkin.customers.cli import CustomerArg, resolve_or_exit
from kithkin.database.core import get_engine, session_scope
from kithkin.errors import KithkinError
from kithkin.playbooks import audience, held, service, views
from kithkin.playbooks.schemas import RunReport
from kithkin.playbooks.workspace import get_playbook, install_file, load_config, validate_file

app = typer.Typer(help="Follow-up playbooks per relationship level.", no_args_is_help=True)
console = Console()
AsOfOption = Annotated[str | None, typer.Option(
    "--as-of", help="Date the run acts on (YYYY-MM-DD); default: today (UTC).")]
TriggerOption = Annotated[list[str] | None, typer.Option(
    "--trigger", help="Only rules with this trigger (repeatable).")]
FileArg = Annotated[Path, typer.Argument(help="A playbook TOML file.")]


def _fail(exc: KithkinError) -> typer.Exit:
    console.print(f"[red]error:[/] {exc}")
    return typer.Exit(code=1)


def _as_of(text: str | None) -> date:
    if text is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        console.print(f"[red]error:[/] --as-of {text!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(code=2) from exc


@app.command("list")
def list_playbooks(output_format: FormatOption = OutputFormat.TABLE,
                   limit: LimitOption = None) -> None:
    """The playbooks available, the levels each serves and their rules."""
    try:
        books = views.list_playbooks(home=get_settings().home)
    except KithkinError as exc:
        raise _fail(exc) from exc
    rows = [[b.name, b.level, ", ".join(b.serves_levels) or "-", f"{b.holdout_share:.0%}",
             "; ".join(f"{r.name} ({r.trigger} -> {', '.join(a.action for a in r.actions)})"
                       for r in b.rules) or "nothing after the sale",
             "built-in" if b.builtin else b.path] for b in books]
    output.emit(["name", "level", "serves", "holdout", "rules", "file"], rows,
                title="Playbooks", output=output_format, limit=limit, console=console)


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="Playbook name.")]) -> None:
    """A playbook's rules: trigger, timing and actions."""
    try:
        book = get_playbook(name, home=get_settings().home)
    except KithkinError as exc:
        raise _fail(exc) from exc
    console.print(f"[bold]{book.title}[/] ({book.name}, level {book.level})\n"
                  f"{book.source}\n{book.description}")
    rows = [[r.name, r.trigger, ", ".join(f"{k}={v}" for k, v in r.params.items()),
             r.delay_days, r.window_days,
             "; ".join(f"{a.action} {a.params}" for a in r.actions)] for r in book.rules]
    output.emit(["rule", "trigger", "parameters", "delay days", "window days", "actions"],
                rows, title=f"Rules of {book.name}", console=console)


@app.command("validate")
def validate(file: FileArg) -> None:
    """Check a playbook file; errors name the file, line, rule and problem."""
    try:
        book = validate_file(file, home=get_settings().home)
    except KithkinError as exc:
        raise _fail(exc) from exc
    console.print(f"[green]ok[/] {book.name} (level {book.level}): "
                  f"{len(book.rules)} rule(s)")


@app.command("install")
def install(file: FileArg) -> None:
    """Validate a playbook file and, only if valid, install it in the workspace (a
    playbook of the same name, built-in or not, is replaced)."""
    try:
        book = install_file(file, home=get_settings().home)
    except KithkinError as exc:
        raise _fail(exc) from exc
    console.print(f"[green]installed[/] {book.name} (level {book.level})")


def _print_report(report: RunReport, output_format: OutputFormat) -> None:
    rows = [[r.playbook, r.level, r.rule, r.trigger, r.due, r.already, r.new, r.holdout,
             r.tasks, r.messages, views.skipped_text(r.skipped)] for r in report.rules]
    title = (f"{'Dry run' if report.dry_run else 'Run'} as of {report.as_of}: "
             f"{report.seconds:.2f} s; customers per level "
             f"{report.customers_by_level or 'none (run kithkin refresh first)'}")
    output.emit(["playbook", "level", "rule", "trigger", "due", "already", "new", "holdout",
                 "tasks", "messages", "skipped"], rows, title=title, output=output_format,
                limit=0, console=console)


@app.command("dry-run")
def dry_run(as_of: AsOfOption = None, trigger: TriggerOption = None,
            output_format: FormatOption = OutputFormat.TABLE) -> None:
    """What a run would create now, per rule; nothing is written."""
    try:
        with session_scope() as session:
            report = service.dry_run(session=session, settings=get_settings(),
                                     as_of=_as_of(as_of), only=set(trigger) if trigger else None)
    except KithkinError as exc:
        raise _fail(exc) from exc
    _print_report(report, output_format)


@app.command("run")
def run(as_of: AsOfOption = None, trigger: TriggerOption = None,
        output_format: FormatOption = OutputFormat.TABLE) -> None:
    """Run the playbooks now (a refresh runs them itself): tasks and messages, once."""
    settings = get_settings()
    try:
        report = service.run(engine=get_engine(settings.resolved_database_url),
                             settings=settings, as_of=_as_of(as_of), mode="manual",
                             only=set(trigger) if trigger else None)
    except KithkinError as exc:
        raise _fail(exc) from exc
    _print_report(report, output_format)


@app.command("report")
def report(as_of: AsOfOption = None, output_format: FormatOption = OutputFormat.TABLE,
           limit: LimitOption = None) -> None:
    """What happened per playbook and level: actions, and customers' next steps against
    the holdout."""
    settings = get_settings()
    try:
        with session_scope() as session:
            rows = views.what_happened(session=session, home=settings.home,
                                       as_of=_as_of(as_of))
    except KithkinError as exc:
        raise _fail(exc) from exc
    table = [[r["playbook"], r["level"], r["rule"], r["firings"], r["holdout"],
              f"{r['tasks']} ({r['tasks_done']} done)",
              f"{r['messages']} ({r['messages_sent']} sent, {r['messages_failed']} failed)",
              views.skipped_text(r["skipped"]),
              views.comparison_text(r["comparison"]["bought_90d"]),
              views.comparison_text(r["comparison"]["moved_down_90d"])] for r in rows]
    output.emit(["playbook", "level", "rule", "firings", "holdout", "tasks", "messages",
                 "skipped", "bought again (90 d)", "moved down (90 d)"], table,
                title="What happened", output=output_format, limit=limit, console=console)
    if not rows:
        console.print("no playbook has fired yet (kithkin playbooks run, or kithkin refresh)")


@app.command("held-back")
def held_back(customer: Annotated[str | None, typer.Argument(
                  help="Only this customer: internal id, an external id, an email or a "
                       "name (id:N, email:ADDRESS to be explicit).")] = None,
              output_format: FormatOption = OutputFormat.TABLE,
              limit: LimitOption = None) -> None:
    """Messages the playbooks held back at queue time (no consent, no address...), and
    why, newest first: recorded on the firing, not as a message."""
    try:
        with session_scope() as session:
            customer_id = resolve_or_exit(session, customer).id if customer else None
            rows = held.held_back(session=session, customer_id=customer_id,
                                  limit=100_000 if limit == 0 else limit or 50)
    except KithkinError as exc:
        raise _fail(exc) from exc
    output.emit(["firing", "customer", "playbook", "rule", "trigger", "occurrence",
                 "fired on", "why not sent"],
                [[r.firing_id, r.customer_id, r.playbook, r.rule, r.trigger, r.occurrence,
                  r.fired_on, r.reason] for r in rows],
                title="Messages held back by playbooks", output=output_format, limit=limit,
                console=console)


@app.command("level")
def level(customer: CustomerArg,
          level_name: Annotated[str | None, typer.Argument(
              metavar="LEVEL", help="basic, reactive, accountable, proactive, partnership.")
          ] = None,
          clear: Annotated[bool, typer.Option(help="Back to the segment's level.")] = False,
          reason: Annotated[str | None, typer.Option(help="Why (kept with it).")] = None
          ) -> None:
    """Show, set or clear one customer's own level (it wins over the segment's)."""
    settings = get_settings()
    try:
        with session_scope() as session:
            customer_id = resolve_or_exit(session, customer).id
            if clear:
                audience.clear_customer_level(session=session, customer_id=customer_id)
            elif level_name is not None:
                audience.set_customer_level(session=session, customer_id=customer_id,
                                            level=level_name, by="cli", reason=reason)
            found, source = audience.level_of(
                session=session, customer_id=customer_id,
                segment_kind=load_config(home=settings.home).segment_kind)
    except KithkinError as exc:
        raise _fail(exc) from exc
    console.print(f"customer {customer_id}: level {found or 'none'} ({source})")
