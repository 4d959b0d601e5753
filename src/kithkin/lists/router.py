"""/lists: saved customer lists, their size and members, CSV export and bulk actions.

Roles (docs/lists.md): everyone reads lists; an agent sees only the members in their own
book (size, members and export alike); agents, managers and admins save lists (an agent
changes only their own); bulk actions are for managers and admins.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from kithkin.api.deps import CustomerScopeDep, SessionDep, SettingsDep
from kithkin.api.pagination import DEFAULT_LIMIT, Page
from kithkin.api.params import AfterQuery, IdPath, LimitQuery
from kithkin.api.permissions import ListsAdmin, ListsRead, ListsWrite
from kithkin.config import Settings
from kithkin.customers.models import Channel
from kithkin.customers.router import _list_item
from kithkin.customers.schemas import CustomerListItem
from kithkin.customers.scope import CustomerScope
from kithkin.database.core import unit_of_work
from kithkin.lists import actions, export
from kithkin.lists import service as list_service
from kithkin.lists.models import CustomerList
from kithkin.lists.schemas import (
    ActionRequest,
    ActionRunRead,
    ListCreate,
    ListRead,
    ListSize,
    ListUpdate,
)
from kithkin.lists.spec import ListSpec

router = APIRouter(prefix="/lists", tags=["lists"])
ChannelQuery = Annotated[Channel | None, Query(
    description="Only members whose current consent on this channel is granted.")]


def _size(session: Session, settings: Settings, scope: CustomerScope,
          spec: ListSpec) -> ListSize:
    of = list_service.audience(session=session, spec=spec, scope=scope, home=settings.home)
    return ListSize(size=list_service.size(session=session, of=of),
                    as_of=of.as_of.isoformat() if of.as_of else None)


@router.get("", response_model=list[ListRead])
def list_lists(session: SessionDep, _: ListsRead) -> list[ListRead]:
    """Every saved list, by name."""
    return [ListRead.model_validate(x) for x in list_service.all_lists(session=session)]


@router.post("/size", response_model=ListSize)
def preview_size(spec: ListSpec, session: SessionDep, settings: SettingsDep,
                 _: ListsRead, scope: CustomerScopeDep) -> ListSize:
    """How many customers a filter matches, before saving it (the dashboard's live
    size). POST because a filter is a JSON document; nothing is written."""
    return _size(session, settings, scope, spec)


@router.post("", response_model=ListRead, status_code=201)
def create_list(payload: ListCreate, session: SessionDep, user: ListsWrite) -> ListRead:
    saved = list_service.create_list(session=session, name=payload.name, spec=payload.spec,
                                     description=payload.description,
                                     created_by_id=user.id)
    session.commit()
    return ListRead.model_validate(saved)


@router.get("/{list_id:int}", response_model=ListRead)
def get_list(list_id: IdPath, session: SessionDep, _: ListsRead) -> ListRead:
    return ListRead.model_validate(list_service.get_list(session=session, list_id=list_id))


@router.patch("/{list_id:int}", response_model=ListRead)
def update_list(list_id: IdPath, payload: ListUpdate, session: SessionDep,
                user: ListsWrite) -> ListRead:
    saved = list_service.get_list(session=session, list_id=list_id)
    list_service.check_may_change(saved, user)
    list_service.update_list(session=session, saved=saved, name=payload.name,
                             description=payload.description, spec=payload.spec)
    session.commit()
    return ListRead.model_validate(saved)


@router.delete("/{list_id:int}", status_code=204)
def delete_list(list_id: IdPath, session: SessionDep, user: ListsWrite) -> Response:
    saved = list_service.get_list(session=session, list_id=list_id)
    list_service.check_may_change(saved, user)
    list_service.delete_list(session=session, saved=saved)
    session.commit()
    return Response(status_code=204)


@router.get("/{list_id:int}/size", response_model=ListSize)
def list_size(list_id: IdPath, session: SessionDep, settings: SettingsDep, _: ListsRead,
              scope: CustomerScopeDep) -> ListSize:
    saved = list_service.get_list(session=session, list_id=list_id)
    return _size(session, settings, scope, list_service.spec_of(saved))


@router.get("/{list_id:int}/members", response_model=Page[CustomerListItem])
def members(list_id: IdPath, session: SessionDep, settings: SettingsDep, _: ListsRead,
            scope: CustomerScopeDep, limit: LimitQuery = DEFAULT_LIMIT,
            after: AfterQuery = None) -> Page[CustomerListItem]:
    """The members, a keyset page at a time by customer id."""
    saved = list_service.get_list(session=session, list_id=list_id)
    of = list_service.audience(session=session, spec=list_service.spec_of(saved),
                               scope=scope, home=settings.home)
    page = list_service.members_page(session=session, of=of, limit=limit, after=after)
    return Page[CustomerListItem](items=[_list_item(r) for r in page.rows],
                                  next_cursor=page.next_cursor, limit=limit)


@router.get("/{list_id:int}/export.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}}})
def export_csv(list_id: IdPath, request: Request, session: SessionDep,
               settings: SettingsDep, _: ListsRead, scope: CustomerScopeDep,
               channel: ChannelQuery = None) -> StreamingResponse:
    """The members as CSV, streamed in batches (a million rows never sit in memory)."""
    saved = list_service.get_list(session=session, list_id=list_id)
    return csv_response(request, saved=saved, scope=scope, settings=settings,
                        channel=channel.value if channel else None)


def csv_response(request: Request, *, saved: CustomerList, scope: CustomerScope,
                 settings: Settings, channel: str | None) -> StreamingResponse:
    """The streamed CSV download of ``saved`` (the API's and the dashboard's)."""
    spec = list_service.spec_of(saved)
    return StreamingResponse(
        stream_csv(request, spec=spec, scope=scope, settings=settings, channel=channel),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="list-{saved.id}.csv"'})


def stream_csv(request: Request, *, spec: ListSpec, scope: CustomerScope,
               settings: Settings, channel: str | None) -> Iterator[str]:
    """The CSV from a session of its own: the request's session closes when the route
    returns, before the body is sent."""
    with unit_of_work(request.app.state.session_factory()) as session:
        of = list_service.audience(session=session, spec=spec, scope=scope,
                                   home=settings.home, consent_channel=channel)
        yield from export.csv_chunks(session=session, of=of)


@router.post("/{list_id:int}/actions", response_model=ActionRunRead)
def run_action(list_id: IdPath, payload: ActionRequest, session: SessionDep,
               settings: SettingsDep, user: ListsAdmin,
               scope: CustomerScopeDep) -> ActionRunRead:
    """Run a bulk action on the members (managers and admins); the run is recorded. The
    same ``request_key`` again returns that run (a repeat is a no-op)."""
    saved = list_service.get_list(session=session, list_id=list_id)
    of = list_service.audience(session=session, spec=list_service.spec_of(saved),
                               scope=scope, home=settings.home)
    run = actions.run_action(session=session, settings=settings, saved=saved, of=of,
                             params=payload.params,
                             request_key=payload.request_key, created_by_id=user.id,
                             via="api")
    return ActionRunRead.model_validate(run)


@router.get("/{list_id:int}/actions", response_model=list[ActionRunRead])
def action_runs(list_id: IdPath, session: SessionDep, _: ListsRead) -> list[ActionRunRead]:
    """The bulk actions run on this list, newest first (who, when, what, how many)."""
    list_service.get_list(session=session, list_id=list_id)
    return [ActionRunRead.model_validate(r)
            for r in list_service.runs(session=session, list_id=list_id)]
