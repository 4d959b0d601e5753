"""The dashboard: server-rendered pages mounted at ``/`` by :func:`kithkin.api.app.create_app`.

Each page group lives in its own ``pages_*`` module; this module only assembles them.
"""

from __future__ import annotations

from fastapi import APIRouter

from kithkin.dashboard import (
    pages_admin,
    pages_analytics,
    pages_audit,
    pages_auth,
    pages_customers,
    pages_identity,
    pages_imports,
    pages_models,
    pages_relationships,
    pages_static,
)

LOGIN_URL = "/login"

router = APIRouter(include_in_schema=False)
for module in (pages_static, pages_auth, pages_analytics, pages_customers, pages_imports,
               pages_admin, pages_relationships, pages_identity, pages_models, pages_audit):
    router.include_router(module.router)
