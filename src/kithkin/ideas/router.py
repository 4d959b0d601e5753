"""/ideas: co-creation. The firm's site submits and votes with an API key; staff review."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from kithkin.api.deps import CustomerScopeDep, SessionDep, require_permission
from kithkin.api.params import IdPath
from kithkin.api.permissions import InteractionsRead, InteractionsWrite
from kithkin.auth.roles import Access, Area
from kithkin.ideas import service as idea_service
from kithkin.ideas.schemas import (
    CommentCreate,
    CommentRead,
    IdeaCreate,
    IdeaDetail,
    IdeaRead,
    RankedIdeaRead,
    StatusChangeCreate,
    StatusChangeRead,
    VoteCreate,
    VoteResult,
)
from kithkin.users.models import StaffUser

router = APIRouter(prefix="/ideas", tags=["ideas"])
# Moving an idea answers in public: managers and admins.
IdeasReview = Annotated[StaffUser, Depends(require_permission(Area.INTERACTIONS, Access.ADMIN))]


@router.get("", response_model=list[RankedIdeaRead])
def list_ideas(session: SessionDep, _: InteractionsRead, scope: CustomerScopeDep,
               by: idea_service.Ranking = "votes", status: str | None = None,
               limit: int = 50) -> list[RankedIdeaRead]:
    """Top ideas by votes, by the value of the customers behind them, or newest."""
    return [RankedIdeaRead(idea=IdeaRead.model_validate(r.idea), votes=r.votes,
                           comments=r.comments, value=r.value)
            for r in idea_service.ranked(session=session, by=by, status=status,
                                         limit=max(1, min(limit, 200)), scope=scope)]


@router.post("", response_model=IdeaRead, status_code=status.HTTP_201_CREATED)
def submit_idea(body: IdeaCreate, session: SessionDep, user: InteractionsWrite,
                scope: CustomerScopeDep) -> IdeaRead:
    if body.customer_id is not None:
        scope.check(session=session, customer_id=body.customer_id)
    idea = idea_service.submit(session=session, title=body.title, body=body.body,
                               customer_id=body.customer_id, category=body.category,
                               submitted_by_id=user.id, external_id=body.external_id)
    return IdeaRead.model_validate(idea)


@router.get("/{idea_id:int}", response_model=IdeaDetail)
def get_idea(idea_id: IdPath, session: SessionDep, _: InteractionsRead) -> IdeaDetail:
    idea, votes, comments, changes = idea_service.detail(session=session, idea_id=idea_id)
    return IdeaDetail(idea=IdeaRead.model_validate(idea), votes=votes,
                      comments=[CommentRead.model_validate(c) for c in comments],
                      history=[StatusChangeRead.model_validate(c) for c in changes])


@router.post("/{idea_id:int}/votes", response_model=VoteResult)
def vote(idea_id: IdPath, body: VoteCreate, session: SessionDep, _: InteractionsWrite,
         scope: CustomerScopeDep) -> VoteResult:
    """One vote per customer: voting again is answered, not counted."""
    scope.check(session=session, customer_id=body.customer_id)
    counted = idea_service.vote(session=session, idea_id=idea_id,
                                customer_id=body.customer_id)
    return VoteResult(counted=counted,
                      votes=idea_service.vote_count(session=session, idea_id=idea_id))


@router.post("/{idea_id:int}/comments", response_model=CommentRead,
             status_code=status.HTTP_201_CREATED)
def add_comment(idea_id: IdPath, body: CommentCreate, session: SessionDep,
                user: InteractionsWrite, scope: CustomerScopeDep) -> CommentRead:
    if body.customer_id is not None:
        scope.check(session=session, customer_id=body.customer_id)
    note = idea_service.comment(
        session=session, idea_id=idea_id, body=body.body, customer_id=body.customer_id,
        user_id=None if body.customer_id is not None else user.id)
    return CommentRead.model_validate(note)


@router.post("/{idea_id:int}/status", response_model=StatusChangeRead)
def move_idea(idea_id: IdPath, body: StatusChangeCreate, session: SessionDep,
              user: IdeasReview) -> StatusChangeRead:
    """New → under review → planned → shipped, or declined, with a public reply; the
    submitter is told through the outbox."""
    change = idea_service.move(session=session, idea_id=idea_id, to_status=body.status,
                               public_reply=body.public_reply, user_id=user.id)
    return StatusChangeRead.model_validate(change)
