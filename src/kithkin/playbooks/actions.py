"""Taking a rule's actions for the firings a run recorded, set-based.

Tasks and messages go through :func:`kithkin.tasks.service.create_task` and
:func:`kithkin.outbox.service.queue_message` (one by one, so the outbox renders and
checks consent) when a rule fires for few customers, as on an event; past
``SERVICE_ROWS`` they are inserted as one statement with ON CONFLICT DO NOTHING on the
same dedupe keys (:mod:`kithkin.playbooks.keys`): the same semantics, the unique key
decides, and a refresh of a million customers does not make a million round trips.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from kithkin.customers.models import Customer
from kithkin.database import bulk
from kithkin.outbox import service as outbox_service
from kithkin.outbox.models import Message, MessageStatus
from kithkin.playbooks import keys
from kithkin.playbooks.definitions import Action, Playbook, Rule
from kithkin.tags import service as tag_service
from kithkin.tasks import service as task_service
from kithkin.tasks.models import Task, TaskStatus
from kithkin.users.models import Role, StaffUser

SERVICE_ROWS = 200  # up to this many per action, the per-row services (see module docs)
CHUNK = 5_000
TASKS, MESSAGES = bulk.table_of(Task), bulk.table_of(Message)
@dataclass
class Outcome:
    tasks: int = 0
    messages: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> firings
    failed: int = 0
    skip_reasons: pd.Series | None = None  # per firing (index of the firings frame)

    def skip(self, reason: str, count: int) -> None:
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + count


def insert_ignoring(session: Session, table: Table, rows: pd.DataFrame, key: str) -> int:
    """Insert ``rows``; a row whose ``key`` is already stored is left out. Rows written."""
    if rows.empty:
        return 0
    return bulk.insert_new(session.connection(), table, rows, key=[key])


def _stored(session: Session, model: type[Task] | type[Message], wanted: list[str]
            ) -> set[str]:
    """The dedupe keys among ``wanted`` already stored (written by an earlier run)."""
    column = model.dedupe_key
    return {str(k) for k in session.scalars(select(column).where(column.in_(wanted)))}


def _account_managers(session: Session, customers: np.ndarray) -> dict[int, int]:
    found: dict[int, int] = {}
    ids = [int(i) for i in np.unique(customers)]
    for start in range(0, len(ids), CHUNK):
        found.update({int(c): int(m or 0) for c, m in session.execute(select(
            Customer.id, Customer.account_manager_id).where(
            Customer.id.in_(ids[start:start + CHUNK]),
            Customer.account_manager_id.is_not(None))).all()})
    return found


def _assign(session: Session, customers: np.ndarray) -> tuple[int, int]:
    """Give customers without an account manager one: active agents (else managers),
    the least loaded first, in turn. Returns (assigned, left without: no staff)."""
    have = _account_managers(session, customers)
    needing = [int(c) for c in np.unique(customers) if int(c) not in have]
    if not needing:
        return 0, 0
    staff: list[int] = []
    for role in (Role.AGENT, Role.MANAGER):
        staff = [int(i) for i in session.scalars(select(StaffUser.id).where(
            StaffUser.is_active.is_(True), StaffUser.role == role.value).order_by(
            StaffUser.id))]
        if staff:
            break
    if not staff:
        return 0, len(needing)
    load = dict(session.execute(select(Customer.account_manager_id, func.count()).where(
        Customer.account_manager_id.in_(staff)).group_by(Customer.account_manager_id)).all())
    order = sorted(staff, key=lambda s: (load.get(s, 0), s))
    rows = [{"b_id": c, "b_am": order[n % len(order)]} for n, c in enumerate(needing)]
    table = bulk.table_of(Customer)
    statement = update(table).where(
        table.c.id == bindparam("b_id"), table.c.account_manager_id.is_(None),
    ).values(account_manager_id=bindparam("b_am"))
    session.connection().execute(statement, rows)
    return len(needing), 0


def _context(book: Playbook, rule: Rule, firing: Any) -> dict[str, Any]:
    return {"playbook": book.name, "level": book.level, "rule": rule.name,
            "trigger": rule.trigger, "occurrence": str(firing.occurrence),
            "occurred_on": str(firing.occurred_on)}


def _tasks(session: Session, book: Playbook, rule: Rule, action: Action, index: int,
           firings: pd.DataFrame, as_of: date, outcome: Outcome) -> None:
    params = action.params
    due = datetime.combine(as_of + timedelta(days=int(params.get("due_days", 3))),
                           time(17, 0), tzinfo=UTC)
    owners = _account_managers(session, firings["customer_id"].to_numpy()) \
        if params.get("owner") == "account_manager" else {}
    dedupe = keys.action_key(firings["dedupe_key"], "task", index)
    why = keys.reason(book.name, rule.name)
    details = params.get("details") or rule.description or book.title
    if len(firings) <= SERVICE_ROWS:
        stored = _stored(session, Task, list(dedupe))
        for firing, key in zip(firings.itertuples(index=False), dedupe, strict=True):
            task_service.create_task(
                session=session, title=params["title"], customer_id=int(firing.customer_id),
                reason=why, owner_id=owners.get(int(firing.customer_id)),
                team=params.get("team"), due_at=due,
                priority=params.get("priority", "normal"),
                details=f"{details} ({rule.trigger}: {firing.occurrence}, "
                        f"{firing.occurred_on})", dedupe_key=key)
            outcome.tasks += int(key not in stored)
        return
    now = datetime.now(UTC)
    customers = firings["customer_id"].astype("int64")
    rows = pd.DataFrame({
        "customer_id": customers, "title": params["title"], "reason": why,
        "owner_id": pd.array(customers.map(owners), dtype="Int64"),
        "team": params.get("team"), "priority": params.get("priority", "normal"),
        "status": TaskStatus.OPEN.value, "due_at": due,
        "details": f"{details} ({rule.trigger}: " + firings["occurrence"].astype(str) + ", "
                   + firings["occurred_on"].astype(str) + ")",
        "dedupe_key": dedupe, "created_at": now, "updated_at": now})
    outcome.tasks += insert_ignoring(session, TASKS, rows, "dedupe_key")


def _messages(session: Session, book: Playbook, rule: Rule, action: Action, index: int,
              firings: pd.DataFrame, outcome: Outcome) -> None:
    params = action.params
    dedupe = keys.action_key(firings["dedupe_key"], "message", index)
    why = keys.reason(book.name, rule.name)
    channel, purpose = params.get("channel", "email"), params.get("purpose", "marketing")
    if len(firings) <= SERVICE_ROWS:
        stored = _stored(session, Message, list(dedupe))
        for firing, key in zip(firings.itertuples(index=False), dedupe, strict=True):
            if key in stored:
                continue
            message = outbox_service.queue_message(
                session=session, customer_id=int(firing.customer_id),
                template=params["template"], channel=channel, purpose=purpose, reason=why,
                context=_context(book, rule, firing), dedupe_key=key)
            if message.status == MessageStatus.SKIPPED:
                outcome.skip(f"message:{message.skip_reason or 'skipped'}", 1)
            outcome.messages += 1
        return
    now = datetime.now(UTC)
    # the context as JSON text, built column-wise (the same keys as _context)
    head = json.dumps({"playbook": book.name, "level": book.level, "rule": rule.name,
                       "trigger": rule.trigger})[:-1]
    context = (head + ', "occurrence": ' + firings["occurrence"].astype(str).map(json.dumps)
               + ', "occurred_on": "' + firings["occurred_on"].astype(str) + '"}')
    rows = pd.DataFrame({
        "customer_id": firings["customer_id"].astype("int64"), "channel": channel,
        "purpose": purpose, "template": params["template"], "context": context,
        "status": MessageStatus.QUEUED.value, "reason": why, "attempts": 0,
        "idempotency_key": [uuid.uuid4().hex for _ in range(len(firings))],
        "dedupe_key": dedupe, "created_at": now, "updated_at": now})
    outcome.messages += insert_ignoring(session, MESSAGES, rows, "dedupe_key")


def take(session: Session, book: Playbook, rule: Rule, firings: pd.DataFrame,
         as_of: date) -> Outcome:
    """Take every action of ``rule`` for ``firings`` (new, contacted firings: columns
    customer_id, occurrence, occurred_on, dedupe_key), in the rule's order."""
    outcome = Outcome(skip_reasons=pd.Series(None, index=firings.index, dtype=object))
    for index, action in enumerate(rule.actions):
        if action.action == "task":
            _tasks(session, book, rule, action, index, firings, as_of, outcome)
        elif action.action == "message":
            _messages(session, book, rule, action, index, firings, outcome)
        elif action.action == "assign_account_manager":
            _, without = _assign(session, firings["customer_id"].to_numpy())
            if without:
                outcome.skip("no_staff", without)
                have = _account_managers(session, firings["customer_id"].to_numpy())
                missing = ~firings["customer_id"].isin(list(have)).to_numpy()
                assert outcome.skip_reasons is not None
                outcome.skip_reasons[missing] = "no_staff"
        else:  # add_tag, enrol_list: a tag (a list enrols by its "list:<name>" tag)
            tag = (action.params["tag"] if action.action == "add_tag"
                   else f"list:{action.params['list']}")
            ids = [int(i) for i in firings["customer_id"]]
            for start in range(0, len(ids), 900):
                tag_service.add_tag_to_selection(
                    session=session, tag=tag,
                    customer_ids=select(Customer.id).where(
                        Customer.id.in_(ids[start:start + 900])))
    return outcome
