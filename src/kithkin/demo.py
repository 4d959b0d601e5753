"""The main job: simulate a business, import it, score it, and show what kithkin knows.

`kithkin demo` is the single entry point a new user runs first (`make demo`). Every step
is the real one a user would run by hand (simulate, import, refresh), so the demo also
proves the pipeline end to end. Re-running it changes nothing: the simulation is
deterministic for a seed and imports upsert on natural keys.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, func, select

from kithkin.analytics import refresh as refresh_service
from kithkin.config import get_settings
from kithkin.database.core import get_engine, session_scope
from kithkin.database.manage import upgrade
from kithkin.imports.schemas import ImportReport
from kithkin.ingest import ingest_file
from kithkin.simulate import simulate_business
from kithkin.simulate.schemas import SimulationSummary

# Parents before children: orders name customers, lines name orders and products.
IMPORT_ORDER = (
    "products", "customers", "prospects", "transactions", "lines", "interactions", "memberships",
)
DEMO_ADMIN_EMAIL = "admin@demo.kithkin"


@dataclass
class DemoResult:
    data_dir: Path
    simulation: SimulationSummary
    imports: list[ImportReport] = field(default_factory=list)
    refresh: refresh_service.RefreshResult | None = None
    admin_password: str | None = None


def simulate_step(*, customers: int, years: float, seed: int, data_dir: Path,
                  progress: Callable[[int, int], None] | None = None) -> SimulationSummary:
    return simulate_business(customers=customers, years=years, seed=seed, out_dir=data_dir,
                             fmt="csv", progress=progress)


def import_step(*, simulation: SimulationSummary, engine: Engine,
                on_file: Callable[[str, Path], None] | None = None) -> list[ImportReport]:
    reports = []
    for kind in IMPORT_ORDER:
        path = simulation.files.get(kind)
        if path is None:
            continue
        if on_file is not None:
            on_file(kind, path)
        reports.append(ingest_file(kind=kind, path=path, engine=engine))
    return reports


def refresh_step(*, as_of: date, engine: Engine,
                 on_step: Callable[[str], None] | None = None) -> refresh_service.RefreshResult:
    return refresh_service.run(settings=get_settings(), as_of=as_of, store_engine=engine,
                               on_step=on_step)


def ensure_demo_admin(*, engine: Engine) -> str | None:
    """Create the demo admin once; returns its new password, or None if it existed."""
    from kithkin.users import service as user_service
    from kithkin.users.models import Role, StaffUser

    with session_scope(engine) as session:
        exists = session.scalar(
            select(func.count()).select_from(StaffUser).where(StaffUser.email == DEMO_ADMIN_EMAIL))
        if exists:
            return None
        password = secrets.token_urlsafe(12)
        user_service.create_user(session=session, email=DEMO_ADMIN_EMAIL, name="Demo admin",
                                 password=password, role=Role.ADMIN)
        return password


def prepare_store() -> Engine:
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = get_engine()
    upgrade(engine)
    return engine
