"""Submitting, voting, commenting and moving ideas through their public statuses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Subquery, func, select
from sqlalchemy.orm import Session

from kithkin.analytics import service as metrics_service
from kithkin.analytics.models import CustomerMetric
from kithkin.customers.models import Customer
from kithkin.customers.scope import EVERYONE, CustomerScope
from kithkin.database.core import get_or_raise
from kithkin.errors import ConflictError, ValidationError
from kithkin.ideas.models import Idea, IdeaComment, IdeaStatus, IdeaStatusChange, IdeaVote
from kithkin.interactions.models import Direction, Interaction, InteractionKind
from kithkin.outbox import service as outbox_service

IDEAS_SOURCE = "ideas"
# Where a status may go next: a shipped or declined idea can be reopened for review only.
MOVES: dict[str, frozenset[str]] = {
    IdeaStatus.NEW: frozenset({IdeaStatus.UNDER_REVIEW, IdeaStatus.PLANNED,
                               IdeaStatus.DECLINED}),
    IdeaStatus.UNDER_REVIEW: frozenset({IdeaStatus.PLANNED, IdeaStatus.DECLINED}),
    IdeaStatus.PLANNED: frozenset({IdeaStatus.SHIPPED, IdeaStatus.DECLINED,
                                   IdeaStatus.UNDER_REVIEW}),
    IdeaStatus.SHIPPED: frozenset({IdeaStatus.UNDER_REVIEW}),
    IdeaStatus.DECLINED: frozenset({IdeaStatus.UNDER_REVIEW}),
}
Ranking = Literal["votes", "value", "newest"]


@dataclass(frozen=True)
class RankedIdea:
    idea: Idea
    votes: int
    comments: int
    # Summed CLV of the submitter and the voters at the latest refresh; None before any
    # refresh (unknown, not zero).
    value: float | None


def submit(*, session: Session, title: str, body: str, customer_id: int | None,
           category: str | None = None, submitted_by_id: int | None = None,
           external_id: str | None = None) -> Idea:
    """Store an idea (once per ``external_id``) and log it as the customer's ``idea``
    interaction, which the stage rules and the customization bond count."""
    if external_id is not None:
        stored = session.scalar(select(Idea).where(Idea.external_id == external_id))
        if stored is not None:
            return stored
    if customer_id is not None:
        get_or_raise(session, Customer, customer_id, "customer")
    idea = Idea(title=title.strip(), body=body.strip(), customer_id=customer_id,
                category=category, submitted_by_id=submitted_by_id, external_id=external_id)
    if not idea.title or not idea.body:
        raise ValidationError("title and body: an idea needs both")
    session.add(idea)
    session.flush()
    if customer_id is not None:
        session.add(Interaction(
            source=IDEAS_SOURCE, external_id=f"idea-{idea.id}", customer_id=customer_id,
            occurred_at=datetime.now(UTC), kind=InteractionKind.IDEA,
            direction=Direction.INBOUND, channel="web", subject=idea.title[:300],
            text=idea.body, staff_user_id=submitted_by_id))
        session.flush()
    return idea


def vote(*, session: Session, idea_id: int, customer_id: int) -> bool:
    """A customer's vote; True when counted now, False when they had voted already."""
    get_or_raise(session, Idea, idea_id, "idea")
    get_or_raise(session, Customer, customer_id, "customer")
    if session.scalar(select(IdeaVote.id).where(IdeaVote.idea_id == idea_id,
                                                IdeaVote.customer_id == customer_id)):
        return False
    session.add(IdeaVote(idea_id=idea_id, customer_id=customer_id))
    session.flush()
    return True


def comment(*, session: Session, idea_id: int, body: str, customer_id: int | None = None,
            user_id: int | None = None) -> IdeaComment:
    get_or_raise(session, Idea, idea_id, "idea")
    if not body.strip():
        raise ValidationError("body: a comment needs text")
    if (customer_id is None) == (user_id is None):
        raise ValidationError("a comment is by a customer or by a staff member")
    if customer_id is not None:
        get_or_raise(session, Customer, customer_id, "customer")
    note = IdeaComment(idea_id=idea_id, body=body.strip(), customer_id=customer_id,
                       user_id=user_id)
    session.add(note)
    session.flush()
    return note


def move(*, session: Session, idea_id: int, to_status: IdeaStatus, public_reply: str | None,
         user_id: int | None) -> IdeaStatusChange:
    """Staff move an idea on, with a reply the submitter and the public see; the
    submitter is told through the outbox (once per change)."""
    idea = get_or_raise(session, Idea, idea_id, "idea")
    if to_status not in MOVES[IdeaStatus(idea.status)]:
        allowed = ", ".join(sorted(MOVES[IdeaStatus(idea.status)]))
        raise ConflictError(f"idea {idea_id} is {idea.status}: it can move to {allowed}")
    reply = (public_reply or "").strip() or None
    if to_status in {IdeaStatus.DECLINED, IdeaStatus.PLANNED} and reply is None:
        raise ValidationError(
            "public_reply: say why when an idea is planned or declined (its submitter and "
            "voters read it)")
    change = IdeaStatusChange(idea_id=idea_id, from_status=idea.status, to_status=to_status,
                              public_reply=reply, user_id=user_id)
    idea.status, idea.status_changed_at = to_status, datetime.now(UTC)
    if reply is not None:
        idea.public_reply = reply
    session.add(change)
    session.flush()
    if idea.customer_id is not None:
        outbox_service.queue_message(
            session=session, customer_id=idea.customer_id, template="idea_status",
            purpose="service", reason=f"idea:{idea.id}",
            context={"idea_title": idea.title, "status": to_status.value,
                     "public_reply": reply},
            dedupe_key=f"idea:{idea.id}:status:{change.id}", created_by_id=user_id)
    return change


def ranked(*, session: Session, by: Ranking = "votes", status: str | None = None,
           limit: int = 50, scope: CustomerScope = EVERYONE) -> list[RankedIdea]:
    """Top ideas by votes, by the value of the customers behind them, or newest."""
    votes = select(IdeaVote.idea_id, func.count().label("n")) \
        .group_by(IdeaVote.idea_id).subquery()
    comments = select(IdeaComment.idea_id, func.count().label("n")) \
        .group_by(IdeaComment.idea_id).subquery()
    value = _value_behind(session)
    columns: list[ColumnElement[float | None]] = [value.c.value] if value is not None else []
    query = select(Idea, func.coalesce(votes.c.n, 0), func.coalesce(comments.c.n, 0),
                   *columns) \
        .outerjoin(votes, votes.c.idea_id == Idea.id) \
        .outerjoin(comments, comments.c.idea_id == Idea.id)
    if value is not None:
        query = query.outerjoin(value, value.c.idea_id == Idea.id)
    if status:
        query = query.where(Idea.status == status)
    if not scope.everyone:
        query = query.where(*scope.rows(Idea.customer_id))
    order: list[ColumnElement[Any]] = []
    if by == "value" and value is not None:
        order.append(func.coalesce(value.c.value, 0).desc())
    if by in {"votes", "value"}:
        order.append(func.coalesce(votes.c.n, 0).desc())
    order.append(Idea.id.desc())
    rows = session.execute(query.order_by(*order).limit(limit)).all()
    return [RankedIdea(idea=row[0], votes=int(row[1]), comments=int(row[2]),
                       value=(None if value is None or row[3] is None else float(row[3])))
            for row in rows]


def _value_behind(session: Session) -> Subquery | None:
    """Per idea, the summed CLV of its submitter and voters at the latest refresh."""
    as_of = metrics_service.latest_as_of(session=session)
    if as_of is None:
        return None
    people = select(Idea.id.label("idea_id"), Idea.customer_id.label("customer_id")) \
        .where(Idea.customer_id.is_not(None)) \
        .union(select(IdeaVote.idea_id, IdeaVote.customer_id)).subquery()
    return select(people.c.idea_id, func.sum(CustomerMetric.clv).label("value")) \
        .join(CustomerMetric, (CustomerMetric.customer_id == people.c.customer_id)
              & (CustomerMetric.as_of == as_of)) \
        .group_by(people.c.idea_id).subquery()


def vote_count(*, session: Session, idea_id: int) -> int:
    return int(session.scalar(select(func.count()).where(IdeaVote.idea_id == idea_id)) or 0)


def detail(*, session: Session, idea_id: int) -> tuple[Idea, int, list[IdeaComment],
                                                        list[IdeaStatusChange]]:
    idea = get_or_raise(session, Idea, idea_id, "idea")
    comments = list(session.scalars(select(IdeaComment).where(IdeaComment.idea_id == idea_id)
                                    .order_by(IdeaComment.id)))
    changes = list(session.scalars(select(IdeaStatusChange).where(
        IdeaStatusChange.idea_id == idea_id).order_by(IdeaStatusChange.id)))
    return idea, vote_count(session=session, idea_id=idea_id), comments, changes
