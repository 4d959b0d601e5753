"""The application factory: one place that assembles middleware, error handlers, routers.

Domain routers live in each domain's ``router.py`` and are listed in
:data:`API_ROUTERS`; to add one, import it here and append it (it is mounted under
``/api/v1``). The dashboard, when installed, is mounted at ``/``.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import APIRouter, FastAPI
from starlette.middleware.sessions import SessionMiddleware

from kithkin import __version__
from kithkin.analytics import router as metrics_router
from kithkin.api import events, health
from kithkin.api.deps import SESSION_COOKIE
from kithkin.api.docs import install_api_docs
from kithkin.api.headers import SecurityHeadersMiddleware
from kithkin.api.limits import RequestLimitsMiddleware
from kithkin.api.problems import install_problem_docs, install_problem_handlers
from kithkin.api.proxies import install_trusted_proxies
from kithkin.api.timing import ServerTimingMiddleware
from kithkin.atrisk import router as atrisk_router
from kithkin.audit import router as audit_router
from kithkin.audit.middleware import AuditMiddleware
from kithkin.auth.ratelimit import LoginRateLimiter
from kithkin.auth.secret import signing_secret
from kithkin.config import Settings, get_settings
from kithkin.connections import router as connections_router
from kithkin.customers import router as customers_router
from kithkin.database.core import get_engine, session_factory
from kithkin.ideas import router as ideas_router
from kithkin.identity import router as identity_router
from kithkin.imports import router as imports_router
from kithkin.interactions import router as interactions_router
from kithkin.jobs.housekeeping import start_upload_cleanup
from kithkin.jobs.maintenance import start_maintenance
from kithkin.jobs.scheduler import RefreshScheduler
from kithkin.lists import router as lists_router
from kithkin.loyalty import router as loyalty_router
from kithkin.memberships import router as memberships_router
from kithkin.offers import router as offers_router
from kithkin.outbox import router as outbox_router
from kithkin.playbooks import router as playbooks_router
from kithkin.preferences import router as preferences_router
from kithkin.privacy import router as privacy_router
from kithkin.products import router as products_router
from kithkin.prospects import router as prospects_router
from kithkin.relationships import router as relationships_router
from kithkin.retention import router as retention_router
from kithkin.tags import router as tags_router
from kithkin.tasks import router as tasks_router
from kithkin.transactions import router as transactions_router
from kithkin.users import router as users_router

API_PREFIX = "/api/v1"

# Every API router, mounted under /api/v1. Add yours here.
API_ROUTERS: list[APIRouter] = [
    users_router.auth_router,
    users_router.router,
    customers_router.router,
    prospects_router.router,
    products_router.router,
    transactions_router.router,
    interactions_router.router,
    memberships_router.router,
    loyalty_router.router,
    ideas_router.router,
    connections_router.router,
    offers_router.router,
    identity_router.router,
    relationships_router.router,
    retention_router.router,
    metrics_router.router,
    atrisk_router.router,
    imports_router.router,
    privacy_router.router,
    outbox_router.router,
    events.router,
    tasks_router.router,
    preferences_router.router,
    playbooks_router.router,
    lists_router.router,
    tags_router.router,
    audit_router.router,
]

# Called with the app when the server starts (e.g. the refresh scheduler), in order.
StartupHook = Callable[[FastAPI], Awaitable[None] | None]
STARTUP_HOOKS: list[StartupHook] = []

DASHBOARD_MODULE = "kithkin.dashboard.router"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    for hook in STARTUP_HOOKS:
        result = hook(app)
        if result is not None:
            await result
    schedulers = [s for s in (_refresh_scheduler(app), _outbox_scheduler(app)) if s]
    for scheduler in schedulers:
        scheduler.start()
    upload_cleanup = await start_upload_cleanup(app)
    maintenance = start_maintenance(app)
    try:
        yield
    finally:
        for job in maintenance:
            await job.stop()
        await upload_cleanup.stop()
        for scheduler in schedulers:
            await scheduler.stop()


def _refresh_scheduler(app: FastAPI) -> RefreshScheduler | None:
    """The periodic refresh, when settings.refresh_interval_hours is set."""
    settings: Settings = app.state.settings
    if settings.refresh_interval_hours is None:
        return None

    def run() -> None:
        from kithkin.analytics import refresh as refresh_service

        refresh_service.run(settings=settings, as_of=datetime.now(UTC).date(),
                            store_engine=app.state.engine)

    scheduler = RefreshScheduler(interval_seconds=settings.refresh_interval_hours * 3600,
                                 run=run)
    app.state.refresh_scheduler = scheduler
    return scheduler


def _outbox_scheduler(app: FastAPI) -> RefreshScheduler | None:
    """Outbox delivery every settings.outbox_deliver_interval_seconds (docs/outbox.md)."""
    settings: Settings = app.state.settings
    if settings.outbox_deliver_interval_seconds is None:
        return None

    def run() -> None:
        from kithkin.outbox import delivery

        delivery.deliver(settings=settings, engine=app.state.engine)

    scheduler = RefreshScheduler(interval_seconds=settings.outbox_deliver_interval_seconds,
                                 run=run, name="outbox delivery")
    app.state.outbox_scheduler = scheduler
    return scheduler


def _include_dashboard(app: FastAPI) -> None:
    """Mount the dashboard when its module exists, so the API runs without it."""
    if importlib.util.find_spec(DASHBOARD_MODULE) is None:
        return
    module = importlib.import_module(DASHBOARD_MODULE)
    app.include_router(module.router)
    # Browsers hitting a page without a session are redirected here instead of a 401.
    app.state.login_url = getattr(module, "LOGIN_URL", "/login")


def create_app(settings: Settings | None = None, *, https_only: bool = False,
               login_limiter: LoginRateLimiter | None = None,
               include_dashboard: bool = True) -> FastAPI:
    """Build the kithkin web application.

    ``https_only`` marks the session cookie Secure and sends HSTS (set it behind TLS);
    ``login_limiter`` replaces the default sign-in throttle (tests);
    ``include_dashboard=False`` serves the API alone. Raises ConfigurationError when the
    secret is weak (see :mod:`kithkin.auth.secret`): no app is built that signs cookies
    with a value others could know.
    """
    settings = settings or get_settings()
    secret = signing_secret(settings)
    app = FastAPI(
        title="kithkin",
        version=__version__,
        description="Relationship-marketing CRM API. Errors are RFC 9457 problem details.",
        lifespan=_lifespan,
        docs_url=None,  # served from local assets by install_api_docs (no CDN)
        redoc_url=None,
    )
    engine = get_engine(settings.resolved_database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    app.state.login_limiter = login_limiter or LoginRateLimiter()
    app.state.login_url = None
    # Inside the session middleware (added later = outer), which decodes the cookie first.
    app.add_middleware(RequestLimitsMiddleware, settings=settings)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        # The staff_session row decides how long a sign-in lasts; the cookie just
        # does not outlive it.
        max_age=round(settings.session_lifetime_hours * 3600),
        same_site="lax",
        https_only=https_only,
    )
    app.add_middleware(ServerTimingMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, https_only=https_only)
    app.add_middleware(AuditMiddleware, engine=engine)  # inside the proxies: real client
    install_trusted_proxies(app, settings)  # last added = outermost: all see the client
    install_problem_handlers(app)
    install_problem_docs(app)
    install_api_docs(app)
    app.include_router(health.router)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    if include_dashboard:
        _include_dashboard(app)
    return app
