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
from kithkin.auth.secret import signing_secret
from kithkin.config import Settings
from kithkin.database.core import get_engine, session_scope
from kithkin.database.manage import upgrade
from kithkin.imports.ingest import ingest_file
from kithkin.imports.schemas import ImportReport
from kithkin.relationships import reports as relationship_reports
from kithkin.simulate import simulate_business
from kithkin.simulate.schemas import SimulationSummary

# Parents before children: orders name customers, lines name orders and products.
IMPORT_ORDER = (
    "products", "customers", "prospects", "transactions", "lines", "interactions", "memberships",
)
DEMO_ADMIN_EMAIL = "admin@demo.kithkin"
DEMO_AGENT_EMAIL = "agent@demo.kithkin"
# The demo agent looks after this many of the journey model's partners (their book).
DEMO_AGENT_BOOK = 25


@dataclass
class DemoResult:
    data_dir: Path
    simulation: SimulationSummary
    imports: list[ImportReport] = field(default_factory=list)
    refresh: refresh_service.RefreshResult | None = None


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


def latest_refresh(*, engine: Engine) -> date | None:
    """The latest relationship refresh: a demo run again refreshes only from there on
    (an earlier as-of is refused, stage history moves forward only)."""
    with session_scope(engine) as session:
        return relationship_reports.latest_run_as_of(session=session)


def refresh_step(*, settings: Settings, as_of: date, engine: Engine,
                 on_step: Callable[[str], None] | None = None) -> refresh_service.RefreshResult:
    return refresh_service.run(settings=settings, as_of=as_of, store_engine=engine,
                               on_step=on_step)


def ensure_demo_users(*, engine: Engine) -> dict[str, str | None]:
    """Create the demo admin and agent once, and give the agent a book of partners.

    Returns each login's new password, or None for a login that already existed.
    """
    from kithkin.customers import service as customer_service
    from kithkin.users import service as user_service
    from kithkin.users.models import Role, StaffUser

    passwords: dict[str, str | None] = {}
    with session_scope(engine) as session:
        for email, name, role in ((DEMO_ADMIN_EMAIL, "Demo admin", Role.ADMIN),
                                  (DEMO_AGENT_EMAIL, "Demo agent", Role.AGENT)):
            exists = session.scalar(select(func.count()).select_from(StaffUser)
                                    .where(StaffUser.email == email))
            passwords[email] = None
            if not exists:
                password = passwords[email] = secrets.token_urlsafe(12)
                user_service.create_user(session=session, email=email, name=name,
                                         password=password, role=role)
        agent = user_service.get_user_by_email(session=session, email=DEMO_AGENT_EMAIL)
        partners = customer_service.in_stage(session=session, model="journey",
                                             stage="partner", limit=DEMO_AGENT_BOOK)
        if partners:
            customer_service.assign_account_manager(session=session, customer_ids=partners,
                                                    account_manager_id=agent.id)
    return passwords


def serve_book_as_partners(*, engine: Engine, settings: Settings, as_of: date) -> int:
    """Serve the customers with an account manager at the partnership level (their own
    level override: Kotler's matrix picks levels per segment, and a firm names its key
    accounts itself) and run the playbooks for them. Returns how many."""
    from kithkin.customers.models import Customer
    from kithkin.playbooks import audience
    from kithkin.playbooks import service as playbook_service

    with session_scope(engine) as session:
        book = list(session.scalars(select(Customer.id).where(
            Customer.account_manager_id.is_not(None))))
        for customer_id in book:
            audience.set_customer_level(session=session, customer_id=customer_id,
                                        level="partnership", by="demo",
                                        reason="the agent's book of key accounts")
    playbook_service.run(engine=engine, settings=settings, as_of=as_of, mode="manual")
    return len(book)


def prepare_store(*, settings: Settings) -> Engine:
    settings.home.mkdir(parents=True, exist_ok=True)
    signing_secret(settings)  # a new workspace gets its secret now, not on first request
    engine = get_engine(settings.resolved_database_url)
    upgrade(engine)
    return engine
