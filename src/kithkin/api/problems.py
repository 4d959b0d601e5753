"""RFC 9457 problem details for every error the API returns.

Domain code raises :mod:`kithkin.errors` classes; this module is the one place that maps
them to HTTP status codes, so a NotFoundError reads as 404 whichever route raised it.
Validation failures carry ``errors: [{field, message}]`` so clients can mark fields.
Details name files but never show where they live on the server (:func:`hide_paths`).
:func:`document_problems` writes the same contract into the OpenAPI document: every
operation lists the problem statuses under ``application/problem+json``.
"""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from kithkin import errors
from kithkin.public_text import hide_paths

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:kithkin:problem:"

log = logging.getLogger(__name__)

# Most specific first: the first class an exception is an instance of wins.
STATUS_BY_ERROR: list[tuple[type[errors.KithkinError], int, str]] = [
    (errors.RateLimitedError, 429, "rate-limited"),
    (errors.ContentTooLargeError, 413, "content-too-large"),
    (errors.ValidationError, 422, "validation-error"),
    (errors.NotFoundError, 404, "not-found"),
    (errors.ConflictError, 409, "conflict"),
    (errors.AuthenticationError, 401, "unauthenticated"),
    (errors.PermissionDeniedError, 403, "forbidden"),
    (errors.ConvergenceError, 422, "model-did-not-converge"),
    (errors.ServiceUnavailableError, 503, "service-unavailable"),
    (errors.KithkinError, 500, "internal-error"),
]

# The statuses any operation may answer with a problem: bad multipart (400), no or bad
# credentials (401), role, scope or CSRF (403), unknown id (404), conflicting state (409),
# body too large (413), wrong content type (415), invalid input (422), rate limited (429),
# a bug (500) or the store busy (503). Documented on every operation, whichever of them
# the route reaches today, so a limit added in front of all routes stays documented.
PROBLEM_STATUSES = (400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503)
PROBLEM_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "The accepted scheme.",
                               "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds before trying again.",
                          "schema": {"type": "integer"}}},
}
_SCHEMA_REF = "#/components/schemas/"


class ProblemFieldError(BaseModel):
    field: str | None = Field(description="Dotted location, e.g. body.customer_ids.0.")
    message: str


class ProblemDetails(BaseModel):
    """An RFC 9457 problem: the body of every error response."""

    type: str = Field(description="urn:kithkin:problem:<slug>, or about:blank.")
    title: str
    status: int
    detail: str | None
    instance: str = Field(description="The request path.")
    errors: list[ProblemFieldError] | None = Field(default=None,
                                                   description="Invalid fields (422).")


_FIELD_PREFIX = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.+)$", re.S)


def problem_response(
    *, status: int, detail: str | None, instance: str, slug: str | None = None,
    field_errors: list[dict[str, str | None]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + slug if slug else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail if detail is None else hide_paths(detail),
        "instance": instance,
    }
    if field_errors is not None:
        body["errors"] = [{**error, "message": hide_paths(error["message"] or "")}
                          for error in field_errors]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE,
                        headers=headers)


def _field_errors(exc: errors.ValidationError) -> list[dict[str, str | None]]:
    if isinstance(exc, errors.IngestError):
        return [{"field": exc.field, "message": exc.reason}]
    match = _FIELD_PREFIX.match(str(exc))
    if match:
        return [{"field": match.group(1), "message": match.group(2)}]
    return [{"field": None, "message": str(exc)}]


def _wants_login_redirect(request: Request) -> bool:
    """Browsers asking for a dashboard page get sent to the login form instead of JSON."""
    login_url = getattr(request.app.state, "login_url", None)
    return (
        login_url is not None
        and not request.url.path.startswith("/api/")
        and "text/html" in request.headers.get("accept", "")
        and request.url.path != login_url
    )


async def kithkin_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.KithkinError)
    status, slug = next((s, n) for cls, s, n in STATUS_BY_ERROR if isinstance(exc, cls))
    if status == 401 and _wants_login_redirect(request):
        login_url = request.app.state.login_url
        return RedirectResponse(f"{login_url}?next={quote(request.url.path)}", status_code=303)
    if status >= 500:
        log.exception("unhandled %s on %s", type(exc).__name__, request.url.path, exc_info=exc)
    headers = None
    if isinstance(exc, errors.RateLimitedError):
        headers = {"Retry-After": str(exc.retry_after)}
    elif status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="kithkin"'}
    return problem_response(
        status=status,
        detail=str(exc) if status < 500 else "internal error; see the server log",
        instance=request.url.path,
        slug=slug,
        field_errors=_field_errors(exc) if isinstance(exc, errors.ValidationError) else None,
        headers=headers,
    )


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def request_validation_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    field_errors: list[dict[str, str | None]] = [
        {"field": _location(err.get("loc", ())), "message": str(err.get("msg", ""))}
        for err in exc.errors()
    ]
    return problem_response(
        status=422, detail=f"{len(field_errors)} invalid field(s)", instance=request.url.path,
        slug="validation-error", field_errors=field_errors,
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first)."""
    path = request.scope["path"]
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        regex = getattr(route, "path_regex", None)
        if route.methods and regex is not None and regex.match(path):
            methods |= set(route.methods)
    return sorted(methods)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return problem_response(
        status=exc.status_code, detail=str(exc.detail), instance=request.url.path,
        headers=headers or None,
    )


async def unhandled_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    return problem_response(
        status=500, detail="internal error; see the server log", instance=request.url.path,
        slug="internal-error",
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.KithkinError, kithkin_error_handler)
    app.add_exception_handler(RequestValidationError, request_validation_handler)
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)
    app.add_exception_handler(Exception, unhandled_error_handler)


def _problem_response_doc(status: int) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _SCHEMA_REF + "ProblemDetails"}}},
    }
    if status in PROBLEM_HEADERS:
        doc["headers"] = PROBLEM_HEADERS[status]
    return doc


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the problem responses to every operation of an OpenAPI document, in place.

    FastAPI documents only a 422 under ``application/json`` with its own error shape;
    it is replaced by what the handlers above send. A status a route documents itself
    (e.g. the readiness probe's 503) is kept.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    definitions = ProblemDetails.model_json_schema(ref_template=_SCHEMA_REF + "{model}")
    components.update(definitions.pop("$defs", {}))
    components["ProblemDetails"] = definitions
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            fastapi_422 = responses.get("422", {}).get("content", {}).get("application/json")
            if fastapi_422 == {"schema": {"$ref": _SCHEMA_REF + "HTTPValidationError"}}:
                del responses["422"]
            for status in PROBLEM_STATUSES:
                responses.setdefault(str(status), _problem_response_doc(status))
    for fastapi_model in ("HTTPValidationError", "ValidationError"):
        if f'"{_SCHEMA_REF}{fastapi_model}"' not in json.dumps(schema):
            components.pop(fastapi_model, None)
    return schema


def install_problem_docs(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the document with :func:`document_problems` applied."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
