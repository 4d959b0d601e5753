"""``kithkin lists``: save a filter as a list, see its size and members, export it as CSV
and run bulk actions on it (recorded as runs by "cli")."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError as PydanticValidationError
from rich.console import Console
from rich.markup import escape

from kithkin.cli import output
from kithkin.cli.output import FormatOption, OutputFormat
from kithkin.config import get_settings
from kithkin.database.core import session_scope
from kithkin.errors import KithkinError, ValidationError
from kithkin.lists import actions, export
from kithkin.lists import service as list_service
from kithkin.lists.schemas import ActionRequest
from kithkin.lists.spec import ListSpec
from kithkin.users import service as user_service

app = typer.Typer(help="Saved customer lists: members, CSV export and bulk actions.",
                  no_args_is_help=True)
console = Console()
err = Console(stderr=True)

ListArg = Annotated[int, typer.Argument(help="The list's id (kithkin lists ls).",
                                        show_default=False)]


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/] {escape(str(exc))}")
    return typer.Exit(1)


def _spec(options: dict[str, Any], spec_file: Path | None) -> ListSpec:
    """The filter from a JSON file, or from the options given (not both)."""
    given = {k: v for k, v in options.items() if v not in (None, [], False)}
    try:
        if spec_file is not None:
            if given:
                raise ValidationError("give --spec or filter options, not both")
            return ListSpec.model_validate(json.loads(spec_file.read_text("utf-8"))).check()
        return ListSpec.model_validate(given).check()
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{spec_file}: not JSON: {exc}") from exc
    except PydanticValidationError as exc:
        where = f"{spec_file}: " if spec_file else ""
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}"
                             for e in exc.errors())
        raise ValidationError(f"{where}{problems}") from exc


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="A unique name.")],
    description: Annotated[str | None, typer.Option(help="What the list is for.")] = None,
    spec_file: Annotated[Path | None, typer.Option(
        "--spec", help="The filter as a JSON file (fields as in docs/lists.md).",
        exists=True, dir_okay=False)] = None,
    stage: Annotated[str | None, typer.Option(help="MODEL:STAGE or STAGE.")] = None,
    level: Annotated[str | None, typer.Option(
        help="Relationship level, e.g. proactive.")] = None,
    level_kind: Annotated[str | None, typer.Option(
        help="Where the level is read: stage:MODEL (default), rfm_segment...")] = None,
    segment: Annotated[str | None, typer.Option(
        help="rfm_segment:NAME or needs_segment:NAME.")] = None,
    moved_down_since: Annotated[str | None, typer.Option(
        help="YYYY-MM-DD: moved down a stage since.")] = None,
    tier: Annotated[str | None, typer.Option(help="Value tier.")] = None,
    at_risk: Annotated[bool | None, typer.Option(
        "--at-risk/--not-at-risk", show_default=False)] = None,
    clv_min: Annotated[float | None, typer.Option()] = None,
    clv_max: Annotated[float | None, typer.Option()] = None,
    manager: Annotated[str | None, typer.Option(help="Account manager's email.")] = None,
    consent: Annotated[str | None, typer.Option(
        help="Granted consent on this channel: email, sms, phone, post.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Has this tag (repeat).")] = None,
    exclude_tag: Annotated[list[str] | None, typer.Option(
        help="Has not this tag (repeat).")] = None,
    country: Annotated[str | None, typer.Option(help="Two-letter country.")] = None,
) -> None:
    """Save a filter over customers as a named list and print its size."""
    model, _, stage_name = (stage or "").rpartition(":")
    kind, _, segment_name = (segment or "").partition(":")
    try:
        with session_scope() as session:
            manager_id = (user_service.get_user_by_email(session=session, email=manager).id
                          if manager else None)
            spec = _spec({
                "stage": stage_name or None, "stage_model": model or None, "level": level,
                "level_kind": level_kind, "segment_kind": kind or None,
                "segment": segment_name or None,
                "moved_down_since": date.fromisoformat(moved_down_since)
                if moved_down_since else None, "moved_down_model": model or None,
                "value_tier": tier, "at_risk": at_risk, "clv_min": clv_min,
                "clv_max": clv_max, "account_manager_id": manager_id,
                "consent_channel": consent, "tags": tag or [],
                "exclude_tags": exclude_tag or [], "country": country}, spec_file)
            saved = list_service.create_list(session=session, name=name, spec=spec,
                                             description=description)
            of = list_service.audience(session=session, spec=spec, home=get_settings().home)
            count = list_service.size(session=session, of=of)
            list_id = saved.id
    except (KithkinError, ValueError) as exc:
        raise _fail(exc) from exc
    console.print(f"list {list_id} [bold]{escape(name)}[/]: {count:,} customers")


@app.command("ls")
def list_lists(output_format: FormatOption = OutputFormat.TABLE) -> None:
    """Every saved list with its filter."""
    with session_scope() as session:
        rows = [[x.id, x.name, "; ".join(list_service.spec_of(x).describe()) or "everyone",
                 x.updated_at] for x in list_service.all_lists(session=session)]
    output.emit(["id", "name", "filter", "updated"], rows, title="lists",
                output=output_format, limit=0, console=console)


@app.command()
def show(list_id: ListArg) -> None:
    """The list's filter, its size now and its latest bulk action runs."""
    try:
        with session_scope() as session:
            saved = list_service.get_list(session=session, list_id=list_id)
            spec = list_service.spec_of(saved)
            of = list_service.audience(session=session, spec=spec, home=get_settings().home)
            count = list_service.size(session=session, of=of)
            runs = [[r.id, r.action, r.status, r.members, r.affected, r.skipped, r.via,
                     r.started_at] for r in list_service.runs(session=session,
                                                              list_id=list_id)]
            name = saved.name
    except KithkinError as exc:
        raise _fail(exc) from exc
    console.print(f"list {list_id} [bold]{escape(name)}[/]: {count:,} customers"
                  + (f" (metrics as of {of.as_of})" if of.as_of else " (no refresh yet)"))
    for part in spec.describe() or ["no filter: every live customer"]:
        console.print(f"  {escape(part)}")
    if runs:
        output.emit(["run", "action", "status", "members", "affected", "skipped", "via",
                     "started"], runs, title="bulk action runs", limit=0, console=console)


@app.command()
def members(list_id: ListArg, output_format: FormatOption = OutputFormat.TABLE,
            limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
            after: Annotated[str | None, typer.Option(
                help="Cursor printed by the last page.")] = None) -> None:
    """One page of the list's members."""
    try:
        with session_scope() as session:
            saved = list_service.get_list(session=session, list_id=list_id)
            of = list_service.audience(session=session, spec=list_service.spec_of(saved),
                                       home=get_settings().home)
            page = list_service.members_page(session=session, of=of, limit=limit,
                                             after=after)
    except KithkinError as exc:
        raise _fail(exc) from exc
    rows = [[r.customer.id, r.label, r.stage, r.clv, r.p_alive, r.value_tier,
             r.account_manager] for r in page.rows]
    output.emit(["id", "customer", f"stage ({page.stage_model or '-'})", "clv", "p_alive",
                 "value tier", "account manager"], rows, title=f"list {list_id}",
                output=output_format, limit=0, console=console)
    if page.next_cursor:
        err.print(f"next page: --after {page.next_cursor}")


@app.command("export")
def export_list(list_id: ListArg, out: Annotated[Path, typer.Option(
        help="The CSV file to write ('-': standard output).")],
        channel: Annotated[str | None, typer.Option(
            help="Only members with granted consent on this channel.")] = None) -> None:
    """Write the members as CSV, a batch at a time (any size of list)."""
    rows = 0
    try:
        with session_scope() as session:
            saved = list_service.get_list(session=session, list_id=list_id)
            of = list_service.audience(session=session, spec=list_service.spec_of(saved),
                                       home=get_settings().home, consent_channel=channel)
            handle = (typer.get_text_stream("stdout") if str(out) == "-"
                      else out.open("w", encoding="utf-8", newline=""))
            try:
                for chunk in export.csv_chunks(session=session, of=of):
                    handle.write(chunk)
                    rows += chunk.count("\n")
            finally:
                if handle is not typer.get_text_stream("stdout"):
                    handle.close()
    except (KithkinError, OSError) as exc:
        raise _fail(exc) from exc
    if str(out) != "-":
        console.print(f"wrote {rows - 1:,} customers to {out}")


@app.command()
def act(
    list_id: ListArg,
    action: Annotated[str, typer.Argument(
        help="create_tasks, queue_message, assign_manager or add_tag.")],
    title: Annotated[str | None, typer.Option(help="create_tasks: the task title.")] = None,
    team: Annotated[str | None, typer.Option(help="create_tasks: team of unowned "
                                                  "tasks.")] = None,
    due_in_days: Annotated[int | None, typer.Option(help="create_tasks: due in.")] = None,
    template: Annotated[str | None, typer.Option(help="queue_message: template.")] = None,
    channel: Annotated[str, typer.Option(help="queue_message: email or sms.")] = "email",
    subject: Annotated[str | None, typer.Option(help="queue_message: subject.")] = None,
    body: Annotated[str | None, typer.Option(help="queue_message: body.")] = None,
    manager: Annotated[str | None, typer.Option(
        help="assign_manager: email, or 'nobody' to unassign.")] = None,
    tag: Annotated[str | None, typer.Option(help="add_tag: the tag.")] = None,
    key: Annotated[str | None, typer.Option(
        help="A name for this run: the same key again repeats it as a no-op.")] = None,
) -> None:
    """Run a bulk action on every member; the run is recorded (kithkin lists show)."""
    try:
        with session_scope() as session:
            params: dict[str, Any] = {"action": action}
            if action == "create_tasks":
                params |= {"title": title, "team": team, "due_in_days": due_in_days}
            elif action == "queue_message":
                params |= {"template": template, "channel": channel, "subject": subject,
                           "body": body}
            elif action == "assign_manager":
                if not manager:
                    raise ValidationError("assign_manager needs --manager EMAIL|nobody")
                params["account_manager_id"] = None if manager == "nobody" else (
                    user_service.get_user_by_email(session=session, email=manager).id)
            elif action == "add_tag":
                params["tag"] = tag
            request = _request({"request_key": key, "params": {
                k: v for k, v in params.items() if v is not None or k ==
                "account_manager_id"}})
            saved = list_service.get_list(session=session, list_id=list_id)
            of = list_service.audience(session=session, spec=list_service.spec_of(saved),
                                       home=get_settings().home)
            run = actions.run_action(session=session, settings=get_settings(), saved=saved,
                                     of=of,
                                     params=request.params, request_key=request.request_key,
                                     via="cli")
            summary = (run.id, run.action, run.members, run.affected, run.skipped,
                       run.request_key)
    except KithkinError as exc:
        raise _fail(exc) from exc
    skipped = f", {summary[4]:,} skipped" if summary[4] else ""
    console.print(f"run {summary[0]}: {summary[1]} on {summary[2]:,} members: "
                  f"{summary[3]:,} done{skipped} (key {summary[5]})")


def _request(document: dict[str, Any]) -> ActionRequest:
    try:
        return ActionRequest.model_validate(document)
    except PydanticValidationError as exc:
        raise ValidationError("; ".join(
            f"{'.'.join(str(p) for p in e['loc'][2:] if p) or 'action'}: {e['msg']}"
            for e in exc.errors())) from exc


@app.command()
def delete(list_id: ListArg) -> None:
    """Delete the list (its recorded runs stay)."""
    try:
        with session_scope() as session:
            saved = list_service.get_list(session=session, list_id=list_id)
            list_service.delete_list(session=session, saved=saved)
    except KithkinError as exc:
        raise _fail(exc) from exc
    console.print(f"list {list_id} deleted")
