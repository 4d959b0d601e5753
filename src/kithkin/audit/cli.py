"""`kithkin audit ...`: read and export the audit trail from the shell."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kithkin.audit import service as audit_service
from kithkin.audit.models import AuditKind
from kithkin.cli import output
from kithkin.cli.output import FormatOption, OutputFormat
from kithkin.database.core import session_scope

app = typer.Typer(help="Read and export the audit trail (append-only).",
                  no_args_is_help=True)
console = Console()

Actor = Annotated[str | None, typer.Option(help="Part of the actor's label (email, cli:user).")]
Entity = Annotated[str | None, typer.Option(help="A table name, e.g. staff_user.")]
Kind = Annotated[str | None, typer.Option(help="request, export, change, bulk, policy, backup.")]
Since = Annotated[datetime | None, typer.Option(help="From this time (ISO, UTC if naive).")]


def _filter(actor: str | None, entity: str | None, kind: str | None,
            since: datetime | None) -> audit_service.AuditFilter:
    if since is not None and since.tzinfo is None:
        from datetime import UTC

        since = since.replace(tzinfo=UTC)
    return audit_service.AuditFilter(actor=actor, entity=entity, kind=kind, since=since)


@app.command("list")
def list_audit(actor: Actor = None, entity: Entity = None, kind: Kind = None,
               since: Since = None, limit: Annotated[int, typer.Option(min=1)] = 50,
               output_format: FormatOption = OutputFormat.TABLE) -> None:
    """The newest entries first."""
    with session_scope() as session:
        rows = [[r.id, r.at, r.kind, r.source, r.actor_label, r.ip, r.method, r.path,
                 r.status, r.entity, r.entity_id, r.action,
                 ", ".join(sorted(r.changes or {})) or r.summary]
                for r in audit_service.list_entries(
                    session=session, where=_filter(actor, entity, kind, since), limit=limit)]
    output.emit(["id", "at", "kind", "source", "actor", "ip", "method", "path", "status",
                 "entity", "entity id", "action", "fields / summary"], rows,
                title="Audit trail", output=output_format, limit=None, console=console)


@app.command("export")
def export(out: Annotated[Path, typer.Option(help="CSV file to write.")],
           actor: Actor = None, entity: Entity = None, kind: Kind = None,
           since: Since = None) -> None:
    """Write the (filtered) trail to a CSV file, oldest first; the export is audited."""
    where = _filter(actor, entity, kind, since)
    with session_scope() as session, out.open("w", encoding="utf-8", newline="") as handle:
        for chunk in audit_service.iter_csv(session=session, where=where):
            handle.write(chunk)
        count = audit_service.count_entries(session=session, where=where)
        audit_service.record(session=session, kind=AuditKind.EXPORT, action="export",
                             entity="audit_log", summary=f"{count} audit rows to {out.name}")
    console.print(f"wrote {count} audit rows to {out}")
