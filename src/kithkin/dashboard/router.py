"""The dashboard: server-rendered pages mounted at ``/`` by :func:`kithkin.api.app.create_app`.

Each page group lives in its own ``pages_*`` module; this module only assembles them.
"""

from __future__ import annotations

from fastapi import APIRouter

from kithkin.dashboard import (
    pages_admin,
    pages_analytics,
    pages_atrisk,
    pages_audit,
    pages_auth,
    pages_bundles,
    pages_customer_work,
    pages_customers,
    pages_ideas,
    pages_identity,
    pages_imports,
    pages_lists,
    pages_models,
    pages_outbox,
    pages_playbooks,
    pages_privacy,
    pages_relationships,
    pages_retention,
    pages_static,
    pages_tasks,
)

LOGIN_URL = "/login"

router = APIRouter(include_in_schema=False)
for module in (pages_static, pages_auth, pages_analytics, pages_customers, pages_imports,
               pages_admin, pages_relationships, pages_identity, pages_ideas, pages_bundles,
               pages_models, pages_tasks, pages_customer_work,
               pages_privacy,
               pages_retention,
               pages_playbooks,
               pages_atrisk, pages_lists,
               pages_outbox,
               pages_audit):
    router.include_router(module.router)
