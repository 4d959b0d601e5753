"""Bulk actions on a list's members, each recorded as a ``list_action_run``.

Set-based where the database can do it in one statement, so 100k members cost one
query, not 100k round trips: create tasks (``INSERT ... SELECT``,
:mod:`kithkin.tasks.bulk`), add a tag (``INSERT ... SELECT``), assign an account manager
(``UPDATE ... WHERE id IN (members)``). Queuing a message goes through the outbox,
which owns rendering, consent and frequency caps, a batch of members at a time
(:func:`kithkin.outbox.bulk.queue_messages_for`: consent in one statement, the rest
set-wise); members are read in keyset batches and each batch is committed, so a run
over a million members holds neither them nor one long transaction.

Idempotency: every task and message of a run has the dedupe key
``list:<list id>:<run id>:<customer id>``. A run is named by its ``request_key``
(unique per list); sending the same key again re-runs that run with the same id, which
inserts nothing already inserted: a double-submitted form or a retried request is a
no-op, and a run that failed half-way is resumed.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import String, cast, literal, or_, select, update
from sqlalchemy.orm import Session

from kithkin.config import Settings
from kithkin.customers.models import Customer
from kithkin.database.base import utcnow
from kithkin.database.setwise import typed
from kithkin.errors import ValidationError
from kithkin.lists import filters
from kithkin.lists.models import CustomerList, ListActionRun, RunStatus
from kithkin.lists.schemas import (
    ActionParams,
    AddTag,
    AssignManager,
    CreateTasks,
    QueueMessage,
)
from kithkin.lists.service import Audience, size
from kithkin.outbox import bulk as outbox_bulk
from kithkin.outbox.models import Message
from kithkin.tags import service as tag_service
from kithkin.tasks import bulk as task_bulk
from kithkin.users.models import Role, StaffUser

MESSAGE_BATCH = 1000


def run_action(*, session: Session, settings: Settings, saved: CustomerList, of: Audience,
               params: ActionParams, request_key: str | None = None,
               created_by_id: int | None = None, via: str = "api") -> ListActionRun:
    """Run ``params`` on the members of ``saved`` (``of``: its audience in the caller's
    scope) and return the run record, committed. A ``request_key`` already done on this
    list returns that run untouched."""
    key = request_key or uuid.uuid4().hex
    run = session.scalar(select(ListActionRun).where(ListActionRun.list_id == saved.id,
                                                     ListActionRun.request_key == key))
    dumped = params.model_dump(mode="json")
    if run is not None:
        if run.action != params.action or run.params != dumped:
            raise ValidationError(f"request_key {key!r} already named a different "
                                  f"{run.action} run (run {run.id}) on list {saved.id}")
        if run.status == RunStatus.DONE:
            return run
    else:
        _validate(session, params)
        run = ListActionRun(list_id=saved.id, list_name=saved.name, action=params.action,
                            params=dumped, request_key=key, spec=saved.spec,
                            created_by_id=created_by_id, via=via)
        session.add(run)
    run.status, run.error, run.finished_at = RunStatus.RUNNING, None, None
    run.members = size(session=session, of=of)
    session.commit()  # the run is on record before any member is touched
    try:
        affected, skipped = _perform(session, run, of, params, settings=settings)
    except Exception as exc:
        session.rollback()
        run.status, run.error, run.finished_at = RunStatus.FAILED, str(exc)[:2000], utcnow()
        session.commit()
        raise
    # a repeated run adds to nothing: what the first one did stays its count
    run.affected = (run.affected or 0) + affected
    run.skipped = (run.skipped or 0) + skipped if skipped is not None else run.skipped
    run.status, run.finished_at = RunStatus.DONE, utcnow()
    session.commit()
    return run


def _validate(session: Session, params: ActionParams) -> None:
    if isinstance(params, AssignManager) and params.account_manager_id is not None:
        _require_staff(session, params.account_manager_id, "account_manager_id",
                       roles={Role.AGENT, Role.MANAGER})
    if isinstance(params, CreateTasks) and params.owner_id is not None:
        _require_staff(session, params.owner_id, "owner_id", roles=set(Role))
    if isinstance(params, AddTag):
        tag_service.normalize(params.tag)


def _require_staff(session: Session, user_id: int, field: str, *, roles: set[Role]) -> None:
    user = session.get(StaffUser, user_id)
    if user is None or not user.is_active:
        raise ValidationError(f"{field}: {user_id} is not an active staff user")
    if user.role not in roles:
        raise ValidationError(f"{field}: {user.email} is {user.role}; needs one of "
                              f"{sorted(r.value for r in roles)}")


def _perform(session: Session, run: ListActionRun, of: Audience,
             params: ActionParams, *, settings: Settings) -> tuple[int, int | None]:
    """(affected, skipped) of one execution of the run."""
    members = filters.member_ids(of.where)
    reason = f"list:{run.list_id}"
    prefix = f"list:{run.list_id}:{run.id}:"
    if isinstance(params, CreateTasks):
        due = (utcnow() + timedelta(days=params.due_in_days)
               if params.due_in_days is not None else None)
        created = task_bulk.create_tasks_for(
            session=session, customers=members, title=params.title, reason=reason,
            dedupe_prefix=prefix, owner_id=params.owner_id,
            owner_is_account_manager=params.owner_is_account_manager, team=params.team,
            due_at=due, priority=params.priority, details=params.details,
            created_by_id=run.created_by_id)
        return created, None
    if isinstance(params, AddTag):
        return tag_service.add_tag_to_selection(
            session=session, tag=params.tag, customer_ids=select(members.subquery().c[0]),
            created_by_id=run.created_by_id), None
    if isinstance(params, AssignManager):
        target = params.account_manager_id
        changed = session.execute(
            update(Customer)
            .where(Customer.id.in_(select(members.subquery().c[0])),
                   or_(Customer.account_manager_id.is_(None),
                       Customer.account_manager_id != target)
                   if target is not None else Customer.account_manager_id.is_not(None))
            .values(account_manager_id=target, updated_at=utcnow())
            .execution_options(synchronize_session=False))
        return int(changed.rowcount or 0), None  # type: ignore[attr-defined]
    return _queue_messages(session, run, of, params, reason=reason, prefix=prefix,
                           settings=settings)


def _queue_messages(session: Session, run: ListActionRun, of: Audience,
                    params: QueueMessage, *, reason: str, prefix: str,
                    settings: Settings) -> tuple[int, int]:
    context: dict[str, Any] = {"list": run.list_name}
    if params.subject is not None:
        context["subject"] = params.subject
    if params.body is not None:
        context["body"] = params.body
    queued = skipped = 0
    last = 0
    ids = select(Customer.id).where(*of.where).order_by(Customer.id).limit(MESSAGE_BATCH)
    while True:
        batch = list(session.scalars(ids.where(Customer.id > last)))
        if not batch:
            break
        last = batch[-1]
        # queued by an earlier execution of this run: neither asked again nor counted
        done = set(session.scalars(select(Message.dedupe_key).where(
            Message.dedupe_key.in_([f"{prefix}{c}" for c in batch]))))
        batch = [c for c in batch if f"{prefix}{c}" not in done]
        if not batch:
            continue
        # judged, rendered and inserted set-wise
        stored = outbox_bulk.queue_messages_for(
            session=session, rows=select(
                Customer.id.label("id"), Customer.id.label("customer_id"),
                (literal(prefix, String) + cast(Customer.id, String)).label("dedupe_key"),
                typed(session, context, Message.context).label("context"),
            ).where(Customer.id.in_(batch)),
            template=params.template, channel=params.channel.value, purpose=params.purpose,
            reason=reason, settings=settings, created_by_id=run.created_by_id)
        queued += stored[""]
        skipped += stored.total() - stored[""]
        session.commit()  # one batch at a time: a crash resumes after the last batch
    return queued, skipped
