"""Page plumbing shared by every dashboard route: templates, the signed-in user, the
role check, CSRF for forms, and friendly HTML answers to the errors pages raise.

Pages are rendered on the server, so a denied page must be refused on the server too:
:func:`require_page` checks the role against the same table that builds the nav bar.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import FileSystemLoader

from kithkin.api.deps import CurrentUser
from kithkin.auth import csrf
from kithkin.dashboard import navigation
from kithkin.dashboard.pages_static import plotly_bundled_style_ids
from kithkin.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from kithkin.public_text import hide_paths
from kithkin.users.models import StaffUser

TEMPLATES_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=TEMPLATES_DIR)
_template_dirs: list[Path] = [TEMPLATES_DIR]
templates.env.filters["money"] = lambda v: "–" if v is None else f"{v:,.2f}"
templates.env.filters["number"] = lambda v: "–" if v is None else f"{v:,.0f}"
templates.env.filters["percent"] = lambda v: "–" if v is None else f"{v:.0%}"
templates.env.filters["when"] = lambda v: "–" if v is None else v.strftime("%Y-%m-%d %H:%M")
templates.env.filters["day"] = lambda v: "–" if v is None else v.strftime("%Y-%m-%d")


def _evidence(value: Any) -> str:
    """A stored evidence object as one readable line: ``key value · key value``."""
    if isinstance(value, dict):
        parts = [f"{k.replace('_', ' ')} {_evidence(v)}" for k, v in value.items()
                 if v is not None]
        return " · ".join(parts)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


templates.env.filters["evidence"] = _evidence
templates.env.globals["plotly_bundled_style_ids"] = plotly_bundled_style_ids
templates.env.filters["public"] = hide_paths  # messages that may name server paths
# Uploads are saved as "<32 hex>-<original name>"; people want the original name.
_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{32}-")
templates.env.filters["filename"] = lambda v: _UPLOAD_PREFIX.sub("", Path(v).name)


def add_template_directory(directory: Path) -> None:
    """Let another package ship its own page templates (they may extend "base.html")."""
    if directory not in _template_dirs:
        _template_dirs.append(directory)
        templates.env.loader = FileSystemLoader([str(d) for d in _template_dirs])


def render(request: Request, template: str, *, user: StaffUser | None,
           active: str = "", status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with what every template needs: user, nav, CSRF token, flash."""
    flash = request.session.pop("flash", None) if "session" in request.scope else None
    return templates.TemplateResponse(
        request, template, status_code=status_code,
        context={
            "user": user,
            "nav": navigation.nav_for(user.role) if user else [],
            "active": active,
            "csrf_token": csrf.csrf_token(request),
            "flash": flash,
            **context,
        },
    )


def flash(request: Request, message: str) -> None:
    """A one-line notice shown on the next page (after a redirect)."""
    request.session["flash"] = message


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths may be redirect targets (no open redirect to another host)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def _error_page(request: Request, exc: Exception, status_code: int, title: str) -> Response:
    user = getattr(request.state, "dashboard_user", None)
    return render(request, "error.html", user=user, status_code=status_code,
                  title=title, message=hide_paths(str(exc)))


class PageRoute(APIRoute):
    """Route class for HTML pages: turns the errors a page raises into HTML answers.

    Dependencies run inside the route handler, so a role check or CSRF failure raised
    by a dependency is caught here too, and the API's JSON error handlers never see it.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except AuthenticationError:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            except PermissionDeniedError as exc:
                return _error_page(request, exc, 403, "Not allowed")
            except NotFoundError as exc:
                return _error_page(request, exc, 404, "Not found")
            except ValidationError as exc:
                return _error_page(request, exc, 400, "Invalid request")

        return page_handler


def require_page(key: str) -> Callable[..., StaffUser]:
    """Dependency: the signed-in user, who must have a role allowed on page ``key``."""

    def dependency(request: Request, user: CurrentUser) -> StaffUser:
        request.state.dashboard_user = user
        if not navigation.allowed(key, user.role):
            label = navigation.page(key).label
            raise PermissionDeniedError(
                f"Your role ({user.role}) does not give access to {label}."
            )
        return user

    return dependency


async def check_csrf(request: Request) -> None:
    """For the sign-in and sign-out forms only: every other form post is signed in, and
    :func:`kithkin.api.deps.current_user` checks the token of those."""
    await csrf.verify_csrf(request)
