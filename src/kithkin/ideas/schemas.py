"""Ideas as the API reads and writes them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from kithkin.fields import RowId
from kithkin.ideas.models import IdeaStatus


class IdeaCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=10_000)
    customer_id: RowId | None = Field(
        default=None, description="Whose idea it is (omit for an anonymous idea).")
    category: str | None = Field(default=None, max_length=100)
    external_id: str | None = Field(
        default=None, max_length=200,
        description="The submitting site's id: a retried POST stores the idea once.")


class IdeaRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int | None
    title: str
    body: str
    category: str | None
    status: str
    public_reply: str | None
    status_changed_at: datetime | None
    created_at: datetime


class RankedIdeaRead(BaseModel):
    idea: IdeaRead
    votes: int
    comments: int
    value: float | None = Field(
        description="Summed CLV of the submitter and voters at the latest refresh; null "
                    "before the first refresh (unknown).")


class VoteCreate(BaseModel):
    customer_id: RowId


class VoteResult(BaseModel):
    counted: bool = Field(description="False when this customer had already voted.")
    votes: int


class CommentCreate(BaseModel):
    body: str = Field(min_length=1, max_length=5_000)
    customer_id: RowId | None = Field(
        default=None, description="The customer commenting; omit for a staff comment.")


class CommentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int | None
    user_id: int | None
    body: str
    created_at: datetime


class StatusChangeCreate(BaseModel):
    status: IdeaStatus
    public_reply: str | None = Field(default=None, max_length=5_000)


class StatusChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: str
    to_status: str
    public_reply: str | None
    changed_at: datetime


class IdeaDetail(BaseModel):
    idea: IdeaRead
    votes: int
    comments: list[CommentRead]
    history: list[StatusChangeRead]
