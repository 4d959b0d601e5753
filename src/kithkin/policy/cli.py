"""`kithkin policy ...`: show and run the data retention policy (dry-run first).

(`kithkin retention` is the churn analytics; this is about how long data is kept.)
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from kithkin.cli import output
from kithkin.cli.output import OutputFormat
from kithkin.config import get_settings
from kithkin.database.core import session_scope
from kithkin.policy import service as policy_service

app = typer.Typer(help="Data retention policy: anonymise or delete old prospects, "
                       "interaction text and uploads (dry-run first).", no_args_is_help=True)
console = Console()


def _show(report: policy_service.PolicyReport) -> None:
    verb = "would affect" if report.dry_run else "affected"
    rows = [[r.rule, r.setting, "off" if r.cutoff is None else r.cutoff.isoformat(),
             "rule off" if r.affected is None else r.affected, r.detail]
            for r in report.rules]
    output.emit(["rule", "setting", "cutoff", verb, "what"], rows,
                title="Retention policy" + (" (dry run: nothing changed)" if report.dry_run
                                            else ""),
                output=OutputFormat.TABLE, limit=None, console=console)


@app.command("run")
def run(dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Count what would change, change nothing.")] = False) -> None:
    """Apply every rule set in the settings (KITHKIN_POLICY_*); each run is audited."""
    settings = get_settings()
    if not policy_service.any_rule_set(settings):
        console.print("no retention rule is set: set KITHKIN_POLICY_PROSPECT_MONTHS, "
                      "KITHKIN_POLICY_INTERACTION_TEXT_YEARS or KITHKIN_POLICY_UPLOAD_DAYS")
    with session_scope() as session:
        report = policy_service.run_policy(session=session, settings=settings,
                                           dry_run=dry_run)
    _show(report)
