"""Saved lists: create, read, change, delete; their size and members, a page at a time.

Members are computed from the list's filter on every read (see
:mod:`kithkin.lists.models`), in the caller's scope: an agent opening a list sees the
members in their own book only, the same rule as the customers page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kithkin.analytics import service as metrics_service
from kithkin.customers import listing, search
from kithkin.customers.models import Customer
from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.database.base import utcnow
from kithkin.database.pagination import keyset_page
from kithkin.errors import ConflictError, NotFoundError, PermissionDeniedError
from kithkin.lists import filters
from kithkin.lists.models import CustomerList, ListActionRun
from kithkin.lists.spec import SPEC_VERSION, ListSpec, load
from kithkin.users.models import Role, StaffUser

BY_ID = search.BY_ID


@dataclass(frozen=True)
class Audience:
    """A list's membership rule, ready to query: the spec, the refresh it reads, and
    the conditions on ``customer`` (filters, scope, live customers, consent)."""

    spec: ListSpec
    as_of: date | None
    where: list[Any]
    stage_model: str | None


def create_list(*, session: Session, name: str, spec: ListSpec,
                description: str | None = None, created_by_id: int | None = None
                ) -> CustomerList:
    """Save ``spec`` as a list called ``name`` (ConflictError if the name is taken)."""
    spec.check()
    _free_name(session, name)
    saved = CustomerList(name=name.strip(), description=description,
                         spec=spec.model_dump(mode="json"), spec_version=SPEC_VERSION,
                         created_by_id=created_by_id)
    session.add(saved)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise ConflictError(f"name: a list called {name!r} exists already") from exc
    return saved


def _free_name(session: Session, name: str, *, but: int | None = None) -> None:
    taken = session.scalar(select(CustomerList.id).where(CustomerList.name == name.strip()))
    if taken is not None and taken != but:
        raise ConflictError(f"name: a list called {name!r} exists already (list {taken})")


def get_list(*, session: Session, list_id: int) -> CustomerList:
    found = session.get(CustomerList, list_id)
    if found is None:
        raise NotFoundError(f"list {list_id} does not exist")
    return found


def spec_of(saved: CustomerList) -> ListSpec:
    return load(saved.spec, where=f"list {saved.id} ({saved.name})")


def all_lists(*, session: Session) -> Sequence[CustomerList]:
    return session.scalars(select(CustomerList).order_by(CustomerList.name)).all()


def check_may_change(saved: CustomerList, user: StaffUser | None) -> None:
    """Managers and admins change any list; others only the lists they made (the CLI,
    with no user, is the operator)."""
    if user is None or user.role in {Role.ADMIN, Role.MANAGER}:
        return
    if saved.created_by_id != user.id:
        raise PermissionDeniedError(
            f"list {saved.id} was made by someone else; only its maker, managers and "
            "admins change or delete it")


def update_list(*, session: Session, saved: CustomerList, name: str | None = None,
                description: str | None = None, spec: ListSpec | None = None
                ) -> CustomerList:
    if name is not None and name.strip() != saved.name:
        _free_name(session, name, but=saved.id)
        saved.name = name.strip()
    if description is not None:
        saved.description = description or None
    if spec is not None:
        spec.check()
        saved.spec, saved.spec_version = spec.model_dump(mode="json"), SPEC_VERSION
    saved.updated_at = utcnow()
    session.flush()
    return saved


def delete_list(*, session: Session, saved: CustomerList) -> None:
    """Delete the list; the record of its action runs stays (with the list's name)."""
    session.delete(saved)
    session.flush()


def audience(*, session: Session, spec: ListSpec, scope: CustomerScope = EVERYONE,
             home: Path | None = None, consent_channel: str | None = None) -> Audience:
    """The membership rule of ``spec`` at the latest refresh. ``home`` (the workspace)
    gives the default stage model a level filter reads when the spec names none."""
    spec.check()
    as_of = metrics_service.latest_as_of(session=session)
    model = spec.stage_model or (listing.default_stage_model(home=home) if home else None)
    where = filters.members(spec, as_of=as_of, scope=scope, default_stage_model=model,
                            consent_channel=consent_channel)
    return Audience(spec=spec, as_of=as_of, where=where, stage_model=model)


def size(*, session: Session, of: Audience) -> int:
    """How many customers the list has (a ``COUNT``: no member comes into Python)."""
    return int(session.scalar(select(func.count()).select_from(Customer).where(*of.where))
               or 0)


def members_page(*, session: Session, of: Audience, limit: int = 50,
                 after: str | None = None, cursor_field: str = "after"
                 ) -> listing.CustomerList:
    """One keyset page of members by customer id, with the customer list's columns."""
    rows, cursor = keyset_page(session=session, query=select(Customer).where(*of.where),
                               id_column=Customer.id, key=BY_ID, limit=limit, after=after,
                               cursor_field=cursor_field)
    return listing.CustomerList(
        rows=listing.with_columns(session=session, customers=rows, as_of=of.as_of,
                                  stage_model=of.stage_model),
        next_cursor=cursor, as_of=of.as_of, stage_model=of.stage_model)


def runs(*, session: Session, list_id: int | None = None, limit: int = 50
         ) -> Sequence[ListActionRun]:
    """The latest bulk action runs, of one list or of every list."""
    query = select(ListActionRun).order_by(ListActionRun.started_at.desc(),
                                           ListActionRun.id.desc()).limit(limit)
    if list_id is not None:
        query = query.where(ListActionRun.list_id == list_id)
    return session.scalars(query).all()
