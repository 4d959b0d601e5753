"""`kithkin backup` and `kithkin restore ARCHIVE`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kithkin.backup import service as backup_service
from kithkin.config import get_settings
from kithkin.database.core import get_engine
from kithkin.errors import KithkinError

console = Console()


def register(app: typer.Typer) -> None:
    @app.command("backup")
    def backup(
        out: Annotated[Path | None, typer.Option(
            help="Archive to write (default: backups/ in the workspace, timestamped).")] = None,
        keep: Annotated[int | None, typer.Option(
            min=1, help="Afterwards keep only this many archives in the backups folder.")
        ] = None,
    ) -> None:
        """Back up the store and the workspace's files into one archive with a manifest.
        Safe while `kithkin serve` runs and writes."""
        settings = get_settings()
        try:
            result = backup_service.create_backup(settings=settings, engine=get_engine(),
                                                  out=out)
        except KithkinError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from exc
        tables = result.manifest["tables"]
        console.print(f"wrote {result.archive} ({sum(tables.values())} rows in "
                      f"{len(tables)} tables, {len(result.manifest['files'])} files)")
        if keep is not None:
            removed = backup_service.prune_backups(folder=result.archive.parent, keep=keep)
            console.print(f"removed {len(removed)} older archive(s)")

    @app.command("restore")
    def restore(
        archive: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                                help="A kithkin backup archive.")],
        force: Annotated[bool, typer.Option(
            help="Replace a store or workspace that is not empty.")] = False,
    ) -> None:
        """Restore a backup archive into an empty store and workspace, checked against its
        manifest. --force replaces a store or workspace that is not empty."""
        try:
            manifest = backup_service.restore_backup(
                settings=get_settings(), engine=get_engine(), archive=archive, force=force)
        except KithkinError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from exc
        console.print(f"restored {archive.name} (taken {manifest['created_at']}): "
                      f"{sum(manifest['tables'].values())} rows in "
                      f"{len(manifest['tables'])} tables match the manifest")
