"""Taking a rule's actions for the firings a run recorded, set-based.

A run first records its firings (``playbook_firing``, one row per new occurrence, with
the run's id); the actions read them back by that id, so an overlapping run that
recorded an occurrence first keeps it, and this run acts on its own firings only.

Tasks and messages go through :func:`kithkin.tasks.service.create_task` and
:func:`kithkin.outbox.service.queue_message` (one by one, so the outbox renders and
checks consent) when a rule fires for few customers, as on an event. Past
``SERVICE_ROWS`` they are written by the store from the firings, one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` per action on the same dedupe keys
(:mod:`kithkin.playbooks.keys`; :mod:`kithkin.tasks.bulk`, :mod:`kithkin.outbox.bulk`):
the same semantics, the unique key decides, and a refresh of a million customers brings
no firing into Python (only the messages that pass the outbox's consent and address
checks come back, to be rendered one by one).

A message the outbox's queue-time checks refuse (the customer is erased, has not
consented to its purpose on its channel, or has no address for it) is not stored as a
message: the firing is the record, with ``skip_reason`` "message:<the outbox's
reason>" (a firing keeps the first reason it is given when a rule has several actions
that may skip), and the run counts it in its ``skipped`` summary. The firing is unique
per occurrence, so the message is decided once, and a customer who consents later is
not messaged for an old firing. Skips decided later (the frequency cap, a check at
delivery time) stay on the message as before.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, String, bindparam, cast, func, literal, null, select, update
from sqlalchemy.orm import Session

from kithkin.config import Settings
from kithkin.customers.models import Customer
from kithkin.database import bulk
from kithkin.outbox import bulk as outbox_bulk
from kithkin.outbox import consent_check
from kithkin.outbox import service as outbox_service
from kithkin.outbox.models import Message, MessageStatus
from kithkin.playbooks import keys
from kithkin.playbooks.definitions import Action, Playbook, Rule
from kithkin.playbooks.models import PlaybookFiring
from kithkin.tags import service as tag_service
from kithkin.tasks import bulk as task_bulk
from kithkin.tasks import service as task_service
from kithkin.tasks.models import Task
from kithkin.users.models import Role, StaffUser

SERVICE_ROWS = 200  # up to this many per action, the per-row services (see module docs)
CHUNK = 5_000
HELD = "message:"  # a firing's skip reason when its message was held back: + the reason
FIRINGS = bulk.table_of(PlaybookFiring)


@dataclass
class Outcome:
    tasks: int = 0
    messages: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> firings
    failed: int = 0

    def skip(self, reason: str, count: int) -> None:
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + count


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


@dataclass
class Firings:
    """The contacted firings one run recorded for one rule (not held out), in the store."""

    book: Playbook
    rule: Rule
    run_id: int
    count: int
    ids: tuple[int, int]  # the first and last id of the rule's firings in this run
    # recorded already held back by the rule's first message (decided when the run
    # planned, see first_message): reason -> firings; None: not decided then
    held: Counter[str] | None = None

    def where(self) -> list[Any]:
        """The rule's contacted firings of the run; the id range lets the store read
        just them by the primary key, not every firing of the run."""
        f = FIRINGS.c
        return [f.run_id == self.run_id, f.id.between(*self.ids),
                f.playbook == self.book.name, f.rule == self.rule.name,
                f.holdout.is_(False)]

    def customers(self) -> Select[Any]:
        return select(FIRINGS.c.customer_id).where(*self.where())

    def frame(self, session: Session) -> pd.DataFrame:
        """id, customer_id, occurrence, occurred_on, dedupe_key (the firing's key text;
        few rows: the per-row path)."""
        f = FIRINGS.c
        rows = session.execute(select(f.id, f.customer_id, f.occurrence, f.occurred_on,
                                      keys.firing_key_sql(f)).where(*self.where())
                               .order_by(f.id))
        return pd.DataFrame(rows.all(), columns=["id", "customer_id", "occurrence",
                                                 "occurred_on", "dedupe_key"])


def _tasks(session: Session, firings: Firings, action: Action, index: int, as_of: date,
           outcome: Outcome) -> None:
    book, rule, params = firings.book, firings.rule, action.params
    due = datetime.combine(as_of + timedelta(days=int(params.get("due_days", 3))),
                           time(17, 0), tzinfo=UTC)
    why = keys.reason(book.name, rule.name)
    details = params.get("details") or rule.description or book.title
    by_manager = params.get("owner") == "account_manager"
    if firings.count <= SERVICE_ROWS:
        frame = firings.frame(session)
        owners = _account_managers(session, frame["customer_id"].to_numpy()) \
            if by_manager else {}
        dedupe = keys.action_key(frame["dedupe_key"], "task", index)
        stored = _stored(session, Task, list(dedupe))
        for firing, key in zip(frame.itertuples(index=False), dedupe, strict=True):
            task_service.create_task(
                session=session, title=params["title"], customer_id=int(firing.customer_id),
                reason=why, owner_id=owners.get(int(firing.customer_id)),
                team=params.get("team"), due_at=due,
                priority=params.get("priority", "normal"),
                details=f"{details} ({rule.trigger}: {firing.occurrence}, "
                        f"{firing.occurred_on})", dedupe_key=key)
            outcome.tasks += int(key not in stored)
        return
    f = FIRINGS.c
    manager = Customer.account_manager_id if by_manager else null()
    rows = select(
        f.customer_id, manager,
        (keys.firing_key_sql(f) + keys.action_suffix("task", index)).label("key"),
        (f"{details} ({rule.trigger}: " + f.occurrence + ", " + cast(f.occurred_on, String)
         + ")").label("details"),
    ).where(*firings.where())
    if by_manager:
        rows = rows.join(Customer, Customer.id == f.customer_id)
    outcome.tasks += task_bulk.create_tasks_for(
        session=session, customers=rows, title=params["title"], reason=why,
        owner_is_account_manager=by_manager, team=params.get("team"), due_at=due,
        priority=params.get("priority", "normal"))


def _context_json(session: Session, book: Playbook, rule: Rule) -> Any:
    f = FIRINGS.c
    build = func.json_build_object if session.get_bind().dialect.name == "postgresql" \
        else func.json_object
    return build("playbook", book.name, "level", book.level, "rule", rule.name,
                 "trigger", rule.trigger, "occurrence", f.occurrence,
                 "occurred_on", cast(f.occurred_on, String))


def _messages(session: Session, firings: Firings, action: Action, index: int,
              outcome: Outcome, settings: Settings) -> None:
    """Queue the action's message for each contacted firing; one the outbox's queue-time
    checks refuse (erasure, consent, an address) is not stored as a message: the
    firing keeps the reason (see :func:`_hold_back`)."""
    book, rule, params = firings.book, firings.rule, action.params
    if firings.count <= SERVICE_ROWS:
        _queue(session, firings, params, index, outcome, settings)
        return
    f = FIRINGS.c
    channel, purpose = params.get("channel", "email"), params.get("purpose", "marketing")
    decided = firings.held is not None and index == first_message(rule)
    # decided while planning: the firings recorded with a reason are this message's
    # refusals; the others are checked again (a consent changed since is still seen)
    undecided = [f.skip_reason.is_(None)] if decided else []
    held = _hold_back(session, firings, channel, purpose, undecided,
                      earlier=_may_have_reason(rule, index))
    if decided and firings.held is not None:
        held.update(firings.held)
    for reason, count in held.items():
        outcome.skip(f"message:{reason}", count)
    if held.total() >= firings.count:  # every one held back: none to look for
        return
    judged = outbox_bulk.decided(select(
        f.id, f.customer_id,
        (keys.firing_key_sql(f) + keys.action_suffix("message", index)).label("dedupe_key"),
        _context_json(session, book, rule).label("context")).where(
        *firings.where(), *undecided), channel, purpose)
    stored = outbox_bulk.queue_passing(
        session=session, judged=judged, template=params["template"], channel=channel,
        purpose=purpose, reason=keys.reason(book.name, rule.name), settings=settings)
    for reason, count in stored.items():
        if reason:
            outcome.skip(f"message:{reason}", count)
    outcome.messages += sum(stored.values())


def first_message(rule: Rule) -> int | None:
    """The position of the rule's message action whose queue-time refusals a run
    decides while it plans (recorded with the firings: no UPDATE of a million rows
    after): the first action that may give a firing its skip reason, when it is a
    message."""
    for index, action in enumerate(rule.actions):
        if action.action == "assign_account_manager":
            return None
        if action.action == "message":
            return index
    return None


def _may_have_reason(rule: Rule, index: int) -> bool:
    """Whether an action before ``index`` may have given a firing its skip reason."""
    return any(a.action in ("message", "assign_account_manager")
               for a in rule.actions[:index])


def _hold_back(session: Session, firings: Firings, channel: str, purpose: str,
               only: list[Any], *, earlier: bool) -> Counter[str]:
    """Record on each contacted firing whose message the queue-time checks refuse why
    (``message:<the outbox's reason>``; a firing keeps the first reason it was given,
    when a rule has several actions that may skip), and count them by reason. ``only``:
    further conditions on the firings looked at.

    The firing is the record: it is unique per occurrence, so the message is never
    decided twice, and a customer who consents later is not messaged for it."""
    f = FIRINGS.c
    judged = outbox_bulk.decided(select(
        f.id, f.customer_id, null().label("dedupe_key"), null().label("context"),
    ).where(*firings.where(), *only), channel, purpose)
    counted: Counter[str] = Counter()
    if earlier:  # firings with an earlier reason keep it but are counted here too
        counted.update({str(row[0]): int(row[1]) for row in session.execute(
            select(judged.c.skip_reason, func.count()).where(
                judged.c.skip_reason.is_not(None)).group_by(judged.c.skip_reason))})
    statement = update(FIRINGS).where(
        f.id == judged.c.id, judged.c.skip_reason.is_not(None), f.skip_reason.is_(None),
    ).values(skip_reason=literal(HELD) + judged.c.skip_reason).returning(f.skip_reason)
    result = session.connection().execute(statement)
    try:
        rows = result.cursor.fetchall() if result.cursor is not None else []
    finally:
        result.close()
    if not earlier:
        counted.update(str(row[0])[len(HELD):] for row in rows)
    return counted


def _queue(session: Session, firings: Firings, params: dict[str, Any], index: int,
           outcome: Outcome, settings: Settings) -> None:
    """Queue one message per firing through the outbox (render, consent, cap); one the
    queue-time checks refuse is held back on its firing (as :func:`_hold_back`)."""
    book, rule = firings.book, firings.rule
    frame = firings.frame(session)
    why = keys.reason(book.name, rule.name)
    channel, purpose = params.get("channel", "email"), params.get("purpose", "marketing")
    dedupe = keys.action_key(frame["dedupe_key"], "message", index)
    stored = _stored(session, Message, list(dedupe))
    held: dict[int, str] = {}
    for firing, key in zip(frame.itertuples(index=False), dedupe, strict=True):
        if key in stored:
            continue
        customer = session.get(Customer, int(firing.customer_id))
        _, refused = consent_check.queue_check(session=session, customer=customer,
                                               channel=channel, purpose=purpose)
        if refused is not None:
            held[int(firing.id)] = HELD + refused
            outcome.skip(HELD + refused, 1)
            continue
        message = outbox_service.queue_message(
            session=session, customer_id=int(firing.customer_id),
            template=params["template"], channel=channel, purpose=purpose, reason=why,
            context=_context(book, rule, firing), dedupe_key=key, settings=settings)
        if message.status == MessageStatus.SKIPPED:
            outcome.skip(f"message:{message.skip_reason or 'skipped'}", 1)
        outcome.messages += 1
    if held:
        f = FIRINGS.c
        session.connection().execute(
            update(FIRINGS).where(f.id == bindparam("b_id"), f.skip_reason.is_(None))
            .values(skip_reason=bindparam("b_reason")),
            [{"b_id": i, "b_reason": r} for i, r in held.items()])


def take(session: Session, firings: Firings, as_of: date, settings: Settings) -> Outcome:
    """Take every action of the rule for its contacted firings of this run, in the
    rule's order."""
    outcome = Outcome()
    for index, action in enumerate(firings.rule.actions):
        if action.action == "task":
            _tasks(session, firings, action, index, as_of, outcome)
        elif action.action == "message":
            _messages(session, firings, action, index, outcome, settings)
        elif action.action == "assign_account_manager":
            customers = np.asarray(session.scalars(firings.customers()).all(), dtype="int64")
            _, without = _assign(session, customers)
            if without:
                outcome.skip("no_staff", without)
                _mark_without_manager(session, firings)
        else:  # add_tag, enrol_list: a tag (a list enrols by its "list:<name>" tag)
            tag = (action.params["tag"] if action.action == "add_tag"
                   else f"list:{action.params['list']}")
            tag_service.add_tag_to_selection(session=session, tag=tag,
                                             customer_ids=firings.customers())
    return outcome


def _mark_without_manager(session: Session, firings: Firings) -> None:
    """The firings whose customer is left without an account manager: no_staff."""
    f = FIRINGS.c
    session.execute(update(FIRINGS).where(
        *firings.where(), f.skip_reason.is_(None), f.customer_id.in_(select(Customer.id).where(
            Customer.account_manager_id.is_(None)))).values(skip_reason="no_staff"))
