"""Lists (campaign audiences): build a list from filters with its size live, see its
members, export them, run a bulk action; and the tags section of the customer 360.

Roles are checked here on the server, from :mod:`kithkin.auth.roles` (the API's table):
everyone opens lists (an agent sees the members in their own book only), agents,
managers and admins save lists, managers and admins run bulk actions.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.orm import Session

from kithkin.api.deps import CustomerScopeDep, SessionDep, SettingsDep
from kithkin.api.params import IdPath
from kithkin.auth.roles import Access, Area, role_allows
from kithkin.config import Settings
from kithkin.customers import listing
from kithkin.customers.models import Channel
from kithkin.dashboard import sections
from kithkin.dashboard.navigation import EVERYONE, Page, register_page
from kithkin.dashboard.web import PageRoute, flash, render, require_page, templates
from kithkin.errors import KithkinError, PermissionDeniedError, ValidationError
from kithkin.lists import actions
from kithkin.lists import router as lists_router
from kithkin.lists import service as list_service
from kithkin.lists.models import ListAction
from kithkin.lists.schemas import ActionRequest
from kithkin.lists.spec import ListSpec
from kithkin.relationships.levels import Level
from kithkin.relationships.models import RelationshipProfile
from kithkin.relationships.workspace import get_model
from kithkin.tags import service as tag_service
from kithkin.users import service as user_service
from kithkin.users.models import Role, StaffUser

LISTS = register_page(Page("lists", "Lists", "/lists", EVERYONE, order=25))
router = APIRouter(route_class=PageRoute, include_in_schema=False)
ListsUser = Annotated[StaffUser, Depends(require_page(LISTS.key))]
CustomersUser = Annotated[StaffUser, Depends(require_page("customers"))]
# The form fields of a filter, in the order the spec has them.
FILTER_FIELDS = ("stage", "level", "segment_kind", "segment", "moved_down_since",
                 "value_tier", "at_risk", "clv_min", "clv_max", "account_manager_id",
                 "consent_channel", "tags", "exclude_tags")
templates.env.globals["may"] = lambda role, area, access: role_allows(
    role, Area(area), Access(access))


def _require(user: StaffUser, access: Access, what: str) -> None:
    if not role_allows(user.role, Area.LISTS, access):
        raise PermissionDeniedError(f"Your role ({user.role}) may not {what}.")


def spec_from_form(values: Mapping[str, str], *, stage_model: str | None) -> ListSpec:
    """The filter of the list form (blank fields do not filter); ValidationError naming
    the field and why."""
    given: dict[str, Any] = {k: values.get(k, "").strip() for k in FILTER_FIELDS}
    document: dict[str, Any] = {k: v for k, v in given.items() if v}
    document["at_risk"] = {"yes": True, "no": False}.get(given["at_risk"])
    for name in ("tags", "exclude_tags"):
        document[name] = [t for t in given[name].split(",") if t.strip()]
    for name, kind in (("clv_min", float), ("clv_max", float),
                       ("account_manager_id", int)):
        if given[name]:
            try:
                document[name] = kind(given[name])
            except ValueError as exc:
                raise ValidationError(f"{name}: {given[name]!r} is not a number") from exc
    if given["stage"] or given["level"]:
        document["stage_model"] = stage_model
    document = {k: v for k, v in document.items() if v is not None}
    try:
        return ListSpec.model_validate(document).check()
    except PydanticValidationError as exc:
        raise ValidationError("; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'filter'}: "
            f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors())) from exc


def _choices(session: Session, home: Path, scope_everyone: bool) -> dict[str, Any]:
    model = listing.default_stage_model(home=home)
    try:
        stages = list(get_model(model, home=home).stage_names) if model else []
    except KithkinError:
        stages = []
    return {
        "stage_model": model, "stages": stages, "levels": [lv.value for lv in Level],
        "tiers": listing.distinct_values(session=session,
                                         column=RelationshipProfile.value_tier),
        "channels": [c.value for c in Channel],
        "managers": _managers(session) if scope_everyone else [],
    }


def _managers(session: Session) -> list[StaffUser]:
    return [u for u in user_service.list_users(session=session)
            if u.is_active and u.role in {Role.AGENT, Role.MANAGER}]


@router.get("/lists")
def lists_page(request: Request, session: SessionDep, settings: SettingsDep,
               user: ListsUser, scope: CustomerScopeDep) -> Response:
    saved = [(x, list_service.spec_of(x).describe())
             for x in list_service.all_lists(session=session)]
    return render(request, "lists.html", user=user, active=LISTS.key, saved=saved,
                  chosen={}, may_save=role_allows(user.role, Area.LISTS, Access.WRITE),
                  **_choices(session, settings.home, scope.everyone))


@router.get("/lists/size")
def live_size(request: Request, session: SessionDep, settings: SettingsDep,
              user: ListsUser, scope: CustomerScopeDep) -> Response:
    """The size of the filter being built (the form's fields as GET parameters), for
    the page's script; a bad filter answers 400 with the reason."""
    model = listing.default_stage_model(home=settings.home)
    try:
        spec = spec_from_form(request.query_params, stage_model=model)
    except ValidationError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    of = list_service.audience(session=session, spec=spec, scope=scope, home=settings.home)
    return JSONResponse({"size": list_service.size(session=session, of=of),
                         "own_book": not scope.everyone})


@router.post("/lists")
async def create(request: Request, session: SessionDep, settings: SettingsDep,
                 user: ListsUser, scope: CustomerScopeDep) -> Response:
    _require(user, Access.WRITE, "save lists")
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        spec = spec_from_form(form, stage_model=listing.default_stage_model(
            home=settings.home))
        if not form.get("name", "").strip():
            raise ValidationError("name: give the list a name")
        saved = list_service.create_list(session=session, name=form["name"], spec=spec,
                                         description=form.get("description") or None,
                                         created_by_id=user.id)
    except KithkinError as exc:
        session.rollback()
        saved_lists = [(x, list_service.spec_of(x).describe())
                       for x in list_service.all_lists(session=session)]
        return render(request, "lists.html", user=user, active=LISTS.key, status_code=400,
                      saved=saved_lists, chosen=form, error=str(exc), may_save=True,
                      **_choices(session, settings.home, scope.everyone))
    session.commit()
    flash(request, f"List “{saved.name}” saved.")
    return RedirectResponse(f"/lists/{saved.id}", status_code=303)


@router.get("/lists/{list_id:int}")
def list_page(request: Request, session: SessionDep, settings: SettingsDep,
              user: ListsUser, scope: CustomerScopeDep, list_id: IdPath,
              cursor: str | None = None) -> Response:
    saved = list_service.get_list(session=session, list_id=list_id)
    spec = list_service.spec_of(saved)
    of = list_service.audience(session=session, spec=spec, scope=scope, home=settings.home)
    page = list_service.members_page(session=session, of=of, after=cursor,
                                     cursor_field="cursor")
    return render(
        request, "list.html", user=user, active=LISTS.key, saved=saved,
        described=spec.describe(), size=list_service.size(session=session, of=of),
        page=page, first_page=cursor is None, own_book=not scope.everyone,
        runs=list_service.runs(session=session, list_id=list_id, limit=20),
        may_act=role_allows(user.role, Area.LISTS, Access.ADMIN),
        may_delete=_may_change(saved, user), request_key=uuid.uuid4().hex,
        actions=[a.value for a in ListAction], channels=[c.value for c in Channel],
        managers=_managers(session))


@router.get("/lists/{list_id:int}/export.csv")
def export_csv(request: Request, session: SessionDep, settings: SettingsDep,
               user: ListsUser, scope: CustomerScopeDep, list_id: IdPath,
               channel: str = "") -> Response:
    """The export button: the API's streamed CSV, with a blank channel meaning any."""
    if channel and channel not in {c.value for c in Channel}:
        raise ValidationError(f"channel: {channel!r} is not one of "
                              f"{', '.join(c.value for c in Channel)}")
    saved = list_service.get_list(session=session, list_id=list_id)
    return lists_router.csv_response(request, saved=saved, scope=scope, settings=settings,
                                     channel=channel or None)


def _may_change(saved: Any, user: StaffUser) -> bool:
    try:
        _require(user, Access.WRITE, "change lists")
        list_service.check_may_change(saved, user)
    except PermissionDeniedError:
        return False
    return True


@router.post("/lists/{list_id:int}/actions")
async def run_action(request: Request, session: SessionDep, settings: SettingsDep,
                     user: ListsUser, scope: CustomerScopeDep, list_id: IdPath) -> Response:
    """The bulk action form; its hidden request key makes a double submit one run."""
    _require(user, Access.ADMIN, "run bulk actions on lists")
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    saved = list_service.get_list(session=session, list_id=list_id)
    action = form.get("action", "")
    fields = {"create_tasks": ("title", "details", "team", "due_in_days", "priority"),
              "queue_message": ("template", "channel", "subject", "body"),
              "assign_manager": ("account_manager_id",), "add_tag": ("tag",)}
    params: dict[str, Any] = {"action": action} | {
        k: form[k].strip() for k in fields.get(action, ()) if form.get(k, "").strip()}
    for name in ("due_in_days", "account_manager_id"):
        if isinstance(params.get(name), str):
            if not params[name].isdigit():
                raise ValidationError(f"{name}: {params[name]!r} is not a whole number")
            params[name] = int(params[name])
    if action == "assign_manager":
        params.setdefault("account_manager_id", None)
    try:
        request_model = ActionRequest.model_validate(
            {"request_key": form.get("request_key") or None, "params": params})
    except PydanticValidationError as exc:
        raise ValidationError("; ".join(
            f"{'.'.join(str(p) for p in e['loc'][2:]) or 'action'}: {e['msg']}"
            for e in exc.errors())) from exc
    of = list_service.audience(session=session, spec=list_service.spec_of(saved),
                               scope=scope, home=settings.home)
    run = actions.run_action(session=session, settings=settings, saved=saved, of=of,
                             params=request_model.params,
                             request_key=request_model.request_key, created_by_id=user.id,
                             via="dashboard")
    skipped = f", {run.skipped:,} skipped" if run.skipped else ""
    flash(request, f"{action.replace('_', ' ').capitalize()}: {run.affected or 0:,} done "
                   f"for {run.members or 0:,} members{skipped} (run {run.id}).")
    return RedirectResponse(f"/lists/{list_id}", status_code=303)


@router.post("/lists/{list_id:int}/delete")
def delete(request: Request, session: SessionDep, user: ListsUser,
           list_id: IdPath) -> Response:
    _require(user, Access.WRITE, "delete lists")
    saved = list_service.get_list(session=session, list_id=list_id)
    list_service.check_may_change(saved, user)
    name = saved.name
    list_service.delete_list(session=session, saved=saved)
    session.commit()
    flash(request, f"List “{name}” deleted.")
    return RedirectResponse("/lists", status_code=303)


# --- tags on the customer 360 ---------------------------------------------------------

def _tags_section(session: Session, customer_id: int,
                  _settings: Settings) -> dict[str, Any]:
    return {"tags": tag_service.tags_of(session=session, customer_id=customer_id)}


sections.register_customer_section(sections.CustomerSection(
    key="tags", title="Tags", template="_customer_tags.html", loader=_tags_section,
    order=20))


@router.post("/customers/{customer_id:int}/tags")
async def tag_customer(request: Request, session: SessionDep, user: CustomersUser,
                       scope: CustomerScopeDep, customer_id: IdPath) -> Response:
    """Add (field ``add``, comma-separated) or remove (field ``remove``) tags."""
    if not role_allows(user.role, Area.CUSTOMERS, Access.WRITE):
        raise PermissionDeniedError(f"Your role ({user.role}) may not tag customers.")
    scope.check(session=session, customer_id=customer_id)
    form = await request.form()
    added, removed = str(form.get("add") or ""), str(form.get("remove") or "")
    if added.strip():
        tag_service.add_tags(session=session, customer_id=customer_id,
                             tags=[t for t in added.split(",") if t.strip()],
                             created_by_id=user.id)
    if removed.strip():
        tag_service.remove_tags(session=session, customer_id=customer_id, tags=[removed])
    session.commit()
    return RedirectResponse(f"/customers/{customer_id}", status_code=303)


