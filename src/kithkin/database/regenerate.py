"""Rewrites the initial migration from the models.

Until the first release there is one migration; regenerating it keeps it exactly equal to
the models (a test checks that autogenerate finds no difference). After a release, add
revisions with `alembic revision --autogenerate` instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from kithkin.database.core import build_engine
from kithkin.database.manage import MIGRATIONS_DIR, alembic_config


def main() -> None:
    versions = MIGRATIONS_DIR / "versions"
    for old in versions.glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'empty.db'}"
        cfg = alembic_config(url)
        engine = build_engine(url)
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.revision(cfg, message="initial", autogenerate=True, rev_id="0001")
    print(f"wrote {next(versions.glob('0001_*.py'))}")


if __name__ == "__main__":
    main()
