"""``kithkin tasks``: list (a person's queue, or filtered), add, show, done, snooze,
reassign, cancel, reopen.

The command line talks to the store directly, so it has no signed-in user: ``--as EMAIL``
(or ``KITHKIN_STAFF_EMAIL``) says who is working. It is needed for ``--mine``, records who
created or closed a task, and applies that person's role: an agent acting here sees and
changes only the tasks of their own book, as in the dashboard and the API.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from kithkin.cli import output
from kithkin.cli.output import FormatOption, OutputFormat
from kithkin.customers import reference as reference_service
from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.database.base import utcnow
from kithkin.database.core import session_scope
from kithkin.errors import KithkinError, ValidationError
from kithkin.tasks import queue as task_queue
from kithkin.tasks import service as task_service
from kithkin.tasks.models import Task, TaskPriority
from kithkin.tasks.schemas import TaskCreate, TaskUpdate
from kithkin.users import service as user_service
from kithkin.users.models import StaffUser

app = typer.Typer(help="Follow-up tasks: queues, adding, working and reassigning them.",
                  no_args_is_help=True)
console = Console()

AsOption = Annotated[str | None, typer.Option(
    "--as", envvar="KITHKIN_STAFF_EMAIL", help="Email of the staff user working (needed for "
    "--mine; an agent sees only their own book).", show_default=False)]
TaskArg = Annotated[int, typer.Argument(min=1, help="The task id.", show_default=False)]
_RELATIVE = re.compile(r"\+?(\d+)\s*([dhw])")


def parse_when(text: str, *, field: str) -> datetime:
    """An ISO date (that day, 09:00 UTC), an ISO date-time (UTC when no offset), or a
    delay from now: 3d, 12h, 2w."""
    text = text.strip()
    relative = _RELATIVE.fullmatch(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return utcnow() + timedelta(**{{"d": "days", "h": "hours", "w": "weeks"}[unit]: amount})
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(),
                                    UTC).replace(hour=9)
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(f"{field}: {text!r} is not a date (YYYY-MM-DD), a date-time "
                              "or a delay such as 3d, 12h, 2w") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@contextmanager
def _working() -> Iterator[Session]:
    """A session whose errors print as one red line and exit 1."""
    try:
        with session_scope() as session:
            yield session
    except KithkinError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc


def _user(session: Session, email: str | None) -> StaffUser | None:
    return user_service.get_user_by_email(session=session, email=email) if email else None


def _scope(user: StaffUser | None) -> CustomerScope:
    return CustomerScope.for_user(user) if user is not None else EVERYONE


def _names(session: Session) -> dict[int, str]:
    return {u.id: u.email for u in user_service.list_users(session=session)}


COLUMNS = ["id", "status", "priority", "due", "overdue", "owner", "customer id", "title",
           "reason"]


def _rows(session: Session, tasks: list[Task], now: datetime, *,
          for_people: bool) -> list[list[object]]:
    """One row per task; for people, dates to the minute and "yes" for overdue."""
    names = _names(session)
    rows: list[list[object]] = []
    for task in tasks:
        read = task_service.read(task, now)
        owner = names.get(task.owner_id, "") if task.owner_id else f"team {task.team or '-'}"
        due: object = task.due_at
        overdue: object = read.overdue
        if for_people:
            due = task.due_at.strftime("%Y-%m-%d %H:%M") if task.due_at else "-"
            overdue = "yes" if read.overdue else ""
        rows.append([task.id, read.status, task.priority, due, overdue, owner,
                     task.customer_id, task.title, task.reason])
    return rows


@app.command("list")
def list_tasks(
    acting: AsOption = None,
    mine: Annotated[bool, typer.Option("--mine", help="The queue of --as: open tasks, "
                                       "overdue first, then priority, then due.")] = False,
    owner: Annotated[str | None, typer.Option(help="Email of the owner.")] = None,
    team: Annotated[str | None, typer.Option(help="Team name.")] = None,
    customer: Annotated[str | None, typer.Option(
        help="The customer: id, ext:SOURCE:ID, email or name.")] = None,
    status: Annotated[list[str] | None, typer.Option(
        help="open, snoozed, done or cancelled (repeat for several).")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Open and past due.")] = False,
    reason: Annotated[str | None, typer.Option(help="Reason prefix, e.g. playbook:")] = None,
    output_format: FormatOption = OutputFormat.TABLE,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Tasks per page.")] = 50,
    after: Annotated[str | None, typer.Option(help="Cursor printed by the last page.")] = None,
) -> None:
    """List tasks: a person's queue (--mine --as EMAIL) or any filter."""
    with _working() as session:
        user = _user(session, acting)
        if mine:
            if user is None:
                raise ValidationError("--mine: say who you are with --as EMAIL "
                                      "(or KITHKIN_STAFF_EMAIL)")
            found = task_queue.queue(session=session, user_id=user.id, limit=limit,
                                     after=after, cursor_field="--after")
            tasks, cursor, now = found.tasks, found.next_cursor, found.as_of
            title = f"tasks of {user.email}"
        else:
            owner_user = _user(session, owner)
            customer_id = (reference_service.resolve(session=session, reference=customer).id
                           if customer else None)
            filters = task_queue.TaskFilters(
                owner_id=owner_user.id if owner_user else None, team=team,
                customer_id=customer_id, statuses=tuple(status or ()), reason=reason,
                overdue=True if overdue else None)
            now = utcnow()
            tasks, cursor = task_queue.list_page(session=session, filters=filters,
                                                 scope=_scope(user), limit=limit,
                                                 after=after, now=now)
            title = "tasks"
        rows = _rows(session, tasks, now, for_people=output_format is OutputFormat.TABLE)
    output.emit(COLUMNS, rows, title=title, output=output_format, limit=0, console=console)
    if cursor:
        Console(stderr=True).print(f"next page: --after {cursor}")


@app.command()
def add(
    title: Annotated[str, typer.Argument(help="What to do.", show_default=False)],
    acting: AsOption = None,
    customer: Annotated[str | None, typer.Option(
        help="The customer: id, ext:SOURCE:ID, email or name.")] = None,
    owner: Annotated[str | None, typer.Option(
        help="Email of the owner (default: --as, unless --team).")] = None,
    team: Annotated[str | None, typer.Option(help="A team to own it.")] = None,
    due: Annotated[str | None, typer.Option(
        help="YYYY-MM-DD, a date-time, or a delay: 3d, 12h, 2w.")] = None,
    priority: Annotated[TaskPriority, typer.Option(case_sensitive=False)] =
        TaskPriority.NORMAL,
    details: Annotated[str | None, typer.Option(help="More about it.")] = None,
) -> None:
    """Add a task by hand (reason "person")."""
    with _working() as session:
        user = _user(session, acting)
        owner_user = _user(session, owner)
        customer_id = (reference_service.resolve(session=session, reference=customer,
                                                 scope=_scope(user)).id
                       if customer else None)
        data = TaskCreate(title=title, customer_id=customer_id, details=details,
                          owner_id=owner_user.id if owner_user else None, team=team,
                          due_at=parse_when(due, field="--due") if due else None,
                          priority=priority)
        task, _ = task_service.add(session=session, data=data, created_by=user,
                                   scope=_scope(user))
        console.print(f"task {task.id} added: {escape(task.title)}")


def _change(acting: str | None, work: Callable[[Session, StaffUser | None], Task],
            done: str) -> None:
    with _working() as session:
        task = work(session, _user(session, acting))
        console.print(done.format(id=task.id, status=task_service.status_now(task)))


@app.command()
def show(task_id: TaskArg, acting: AsOption = None) -> None:
    """Print one task."""
    with _working() as session:
        task = task_service.get(session=session, task_id=task_id,
                                scope=_scope(_user(session, acting)))
        read = task_service.read(task)
        names = _names(session)
        table = Table(title=f"task {task.id}", show_header=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for name, value in read.model_dump().items():
            if name.endswith("_by_id") or name == "owner_id":
                value = names.get(value, value) if value else None
            table.add_row(name, escape("-" if value is None else str(value)))
        output.print_table(table, console=console)


@app.command()
def done(task_id: TaskArg, outcome: Annotated[str, typer.Option(
        help="What was done and how it went.", show_default=False)],
         acting: AsOption = None) -> None:
    """Mark a task done, with its outcome."""
    _change(acting, lambda session, user: task_service.complete(
        session=session, task_id=task_id, outcome=outcome, by=user, scope=_scope(user)),
        "task {id} is {status}")


@app.command()
def snooze(task_id: TaskArg, until: Annotated[str, typer.Option(
        help="YYYY-MM-DD, a date-time, or a delay: 3d, 12h, 2w.", show_default=False)],
           acting: AsOption = None) -> None:
    """Put a task aside until a time; it comes back to its owner's queue then."""
    _change(acting, lambda session, user: task_service.snooze(
        session=session, task_id=task_id, until=parse_when(until, field="--until"),
        scope=_scope(user)), "task {id} is {status}")


@app.command()
def reassign(task_id: TaskArg,
             owner: Annotated[str | None, typer.Option(help="Email of the new owner.")] = None,
             team: Annotated[str | None, typer.Option(help="The new team.")] = None,
             acting: AsOption = None) -> None:
    """Give a task to someone else, or to a team."""
    def work(session: Session, user: StaffUser | None) -> Task:
        if owner is None and team is None:
            raise ValidationError("--owner: give --owner EMAIL and/or --team NAME")
        new_owner = _user(session, owner)
        fields: dict[str, object] = {"owner_id": new_owner.id if new_owner else None}
        if team is not None:
            fields["team"] = team
        changes = TaskUpdate.model_validate(fields)
        return task_service.update(session=session, task_id=task_id, changes=changes,
                                   scope=_scope(user))

    _change(acting, work, "task {id} reassigned")


@app.command()
def cancel(task_id: TaskArg, note: Annotated[str | None, typer.Option(
        help="Why it is no longer needed.")] = None, acting: AsOption = None) -> None:
    """Cancel a task that is no longer needed."""
    _change(acting, lambda session, user: task_service.cancel(
        session=session, task_id=task_id, by=user, note=note, scope=_scope(user)),
        "task {id} is {status}")


@app.command()
def reopen(task_id: TaskArg, acting: AsOption = None) -> None:
    """Open a done, cancelled or snoozed task again."""
    _change(acting, lambda session, user: task_service.reopen(
        session=session, task_id=task_id, scope=_scope(user)), "task {id} is {status}")

