"""Bundles and cross-sell: the strongest association rules per category."""

from __future__ import annotations

from itertools import groupby
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from kithkin.api.deps import SessionDep
from kithkin.dashboard.navigation import ANALYTICS, Page, register_page
from kithkin.dashboard.web import PageRoute, render, require_page
from kithkin.offers import service as offer_service
from kithkin.users.models import StaffUser

BUNDLES = register_page(Page("bundles", "Bundles", "/bundles", ANALYTICS, order=45))
router = APIRouter(prefix="/bundles", route_class=PageRoute, include_in_schema=False)
BundlesUser = Annotated[StaffUser, Depends(require_page(BUNDLES.key))]


@router.get("")
def bundles(request: Request, session: SessionDep, user: BundlesUser) -> Response:
    rules = offer_service.rules(session=session, limit=1000)
    by_category = [(category or "no category", list(group)[:10])
                   for category, group in groupby(rules, key=lambda r: r.category)]
    return render(request, "bundles.html", user=user, active=BUNDLES.key,
                  by_category=by_category)
